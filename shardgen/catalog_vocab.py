"""Product catalog vocabulary; money is in integer cents to avoid float drift."""

from typing import Final, NamedTuple


class Noun(NamedTuple):
    noun: str
    cost_min: int
    cost_max: int
    weight_min: float
    weight_max: float
    features: tuple[str, ...]


class Category(NamedTuple):
    name: str
    description: str
    sku_prefix: str
    markup_min: int
    markup_max: int
    share: int
    brands: tuple[str, ...]
    adjectives: tuple[str, ...]
    nouns: tuple[Noun, ...]


# Markups mirror typical reseller margins: thin on consumables and hardware
# that buyers can price-compare easily, wide on software and accessories.
CATEGORIES: Final[tuple[Category, ...]] = (
    Category(
        "Electronics",
        "Computers, displays and personal devices for offices and field teams.",
        "ELE", 30, 50, 16,
        ("Voltaris", "Nexora", "Brightwell", "Corvane", "Altura Digital",
         "Kestrelon", "Quantiq", "Ardentec", "Stratovolt", "Helixa"),
        ("Pro", "Ultra", "Slim", "Business", "Elite", "Compact", "Max", "Plus",
         "Performance", "Essential"),
        (
            Noun("Laptop", 45000, 120000, 3.0, 5.5, (
                "a 14-inch full HD display", "16 GB of memory",
                "a 512 GB solid-state drive", "a backlit keyboard",
                "up to 12 hours of battery life")),
            Noun("Desktop Computer", 40000, 110000, 12.0, 25.0, (
                "a 6-core processor", "16 GB of memory",
                "a 1 TB solid-state drive", "front-panel USB-C ports")),
            Noun("Tablet", 18000, 60000, 1.0, 1.6, (
                "an 11-inch touchscreen", "128 GB of storage",
                "stylus support", "all-day battery life")),
            Noun("Computer Monitor", 9000, 45000, 8.0, 18.0, (
                "a 27-inch IPS panel", "QHD 2560 x 1440 resolution",
                "a height-adjustable stand", "HDMI and DisplayPort inputs")),
            Noun("Smartphone", 20000, 80000, 0.3, 0.6, (
                "a 6.1-inch OLED display", "256 GB of storage",
                "a dual-lens camera", "5G connectivity")),
            Noun("Projector", 30000, 120000, 5.0, 12.0, (
                "4000 lumens of brightness", "native 1080p resolution",
                "a 10,000-hour lamp life", "built-in speakers")),
            Noun("Document Camera", 6000, 25000, 2.0, 5.0, (
                "an 8-megapixel sensor", "a flexible gooseneck arm",
                "built-in LED lighting", "USB plug-and-play setup")),
            Noun("Wireless Headset", 4000, 18000, 0.4, 1.0, (
                "active noise cancellation", "a boom microphone",
                "Bluetooth multipoint pairing", "up to 30 hours of talk time")),
            Noun("Conference Speakerphone", 8000, 40000, 1.0, 3.0, (
                "a 360-degree microphone array", "echo cancellation",
                "USB and Bluetooth connectivity", "coverage for up to 8 people")),
            Noun("UPS Battery Backup", 6000, 35000, 8.0, 30.0, (
                "1500 VA of capacity", "8 protected outlets",
                "an LCD status panel", "automatic voltage regulation")),
        ),
    ),
    Category(
        "Office Supplies",
        "Everyday paper, writing and desk essentials that keep an office running.",
        "OFF", 20, 50, 22,
        ("Penwright", "Clearmark", "Deskhaven", "Foliant", "Staplewell",
         "Inkridge", "Paperlane", "Tidyworks", "Briarfield", "Northleaf"),
        ("Premium", "Heavy-Duty", "Everyday", "Recycled", "Classic", "Value",
         "Bright", "Professional", "Bulk", "Essential"),
        (
            Noun("Copy Paper Ream", 400, 700, 4.8, 5.3, (
                "500 sheets of letter-size paper", "a 92 brightness rating",
                "20 lb bond weight", "jam-free performance in laser printers")),
            Noun("Ballpoint Pen Pack", 300, 1200, 0.2, 0.5, (
                "a dozen medium-point pens", "quick-drying black ink",
                "a cushioned rubber grip", "a retractable tip")),
            Noun("Sticky Note Pack", 300, 1000, 0.3, 1.0, (
                "twelve 3 x 3 inch pads", "a repositionable adhesive",
                "100 sheets per pad", "assorted bright colors")),
            Noun("Stapler", 600, 3000, 0.5, 2.0, (
                "a 25-sheet capacity", "a full-strip staple magazine",
                "a non-skid rubber base", "an all-metal frame")),
            Noun("Three-Ring Binder", 200, 900, 0.5, 1.5, (
                "2-inch D-rings", "a clear view cover",
                "two interior pockets", "a 500-sheet capacity")),
            Noun("Manila File Folders", 800, 1800, 3.0, 5.0, (
                "a box of 100 folders", "one-third cut tabs",
                "reinforced tops", "letter-size fit")),
            Noun("Desk Organizer", 1000, 3500, 1.0, 3.0, (
                "five storage compartments", "a sliding drawer",
                "a steel mesh finish", "a slot for letter-size files")),
            Noun("Dry-Erase Marker Set", 400, 1400, 0.2, 0.5, (
                "a chisel tip", "low-odor ink",
                "eight assorted colors", "ink that wipes clean without ghosting")),
            Noun("Shipping Label Pack", 1200, 3500, 2.0, 5.0, (
                "100 sheets of 2 x 4 inch labels", "a permanent adhesive",
                "laser and inkjet compatibility", "smudge-free printing")),
            Noun("Whiteboard", 2500, 12000, 5.0, 25.0, (
                "a 48 x 36 inch writing surface", "an aluminum frame",
                "a full-length marker tray", "a magnetic steel surface")),
            Noun("Paper Shredder", 4000, 25000, 10.0, 40.0, (
                "micro-cut security", "a 12-sheet capacity",
                "a 6-gallon pull-out bin", "automatic jam reversal")),
        ),
    ),
    Category(
        "Software",
        "Licenses and subscriptions for productivity, security and business systems.",
        "SFT", 100, 300, 8,
        ("Cloudmere", "Ledgerly", "Bytecraft", "Sentrion", "Workvane",
         "Orbisoft", "Tallyline", "Vaultic", "Syncwise", "Planora"),
        ("Pro", "Business", "Enterprise", "Standard", "Premium", "Cloud",
         "Essentials", "Advanced", "Team", "Suite"),
        (
            Noun("Accounting Software Subscription", 12000, 60000, 0.0, 0.1, (
                "bank feed reconciliation", "multi-user access",
                "sales tax tracking", "customizable invoice templates")),
            Noun("Antivirus License", 2000, 9000, 0.0, 0.1, (
                "real-time threat protection", "coverage for five devices",
                "ransomware rollback", "a central management console")),
            Noun("Office Suite License", 7000, 40000, 0.0, 0.1, (
                "word processing and spreadsheets", "1 TB of cloud storage",
                "real-time co-authoring", "installs on up to five devices")),
            Noun("Project Management Subscription", 5000, 30000, 0.0, 0.1, (
                "Gantt chart scheduling", "task dependencies",
                "time tracking", "shared team dashboards")),
            Noun("Backup Software License", 4000, 25000, 0.0, 0.1, (
                "incremental image backups", "AES-256 encryption",
                "bare-metal restore", "scheduled offsite replication")),
            Noun("Password Manager Subscription", 2000, 8000, 0.0, 0.1, (
                "an encrypted shared vault", "browser autofill",
                "breach monitoring alerts", "single sign-on integration")),
            Noun("Point-of-Sale Software", 10000, 60000, 0.0, 0.1, (
                "inventory tracking", "integrated card processing",
                "offline sales mode", "end-of-day sales reports")),
            Noun("Video Conferencing Subscription", 8000, 30000, 0.0, 0.1, (
                "meetings for up to 300 participants", "cloud recording",
                "breakout rooms", "calendar integration")),
            Noun("Payroll Software Subscription", 15000, 60000, 0.0, 0.1, (
                "automatic tax filing", "direct deposit",
                "year-end W-2 and 1099 forms", "an employee self-service portal")),
            Noun("CRM Subscription", 10000, 60000, 0.0, 0.1, (
                "contact and deal pipelines", "email tracking",
                "sales forecasting reports", "a mobile companion app")),
        ),
    ),
    Category(
        "Furniture",
        "Desks, seating and storage built for offices, reception areas and home offices.",
        "FUR", 40, 80, 8,
        ("Oakhurst", "Seatcraft", "Linwood", "Bramblewood", "Steelform",
         "Alder & Vine", "Posturon", "Halvard", "Cedarline", "Meridale"),
        ("Ergonomic", "Executive", "Modern", "Mid-Century", "Adjustable",
         "Mobile", "Contemporary", "Heavy-Duty", "Classic", "Modular"),
        (
            Noun("Office Chair", 8000, 40000, 30.0, 55.0, (
                "adjustable lumbar support", "a breathable mesh back",
                "4D armrests", "a synchronized tilt mechanism")),
            Noun("Standing Desk", 20000, 70000, 60.0, 110.0, (
                "dual lift motors", "a 60 x 30 inch desktop",
                "four programmable height presets", "a 300 lb load capacity")),
            Noun("Filing Cabinet", 9000, 35000, 40.0, 120.0, (
                "full-extension drawers", "a central lock",
                "letter and legal file rails", "an anti-tip interlock")),
            Noun("Bookcase", 6000, 25000, 30.0, 80.0, (
                "five shelves", "adjustable shelf heights",
                "a scratch-resistant laminate", "a wall anchor kit")),
            Noun("Conference Table", 30000, 150000, 100.0, 300.0, (
                "seating for eight", "a built-in power and data module",
                "a cable management trough", "a 1-inch thick top")),
            Noun("Reception Chair", 7000, 25000, 20.0, 40.0, (
                "a padded seat", "a powder-coated steel frame",
                "stain-resistant upholstery", "stackable design")),
            Noun("Mobile Pedestal", 8000, 25000, 35.0, 70.0, (
                "a box-box-file drawer layout", "locking casters",
                "a cushioned top", "a keyed lock")),
            Noun("Storage Cabinet", 15000, 45000, 80.0, 180.0, (
                "four adjustable shelves", "locking double doors",
                "a 72-inch height", "all-welded steel construction")),
            Noun("Office Desk", 12000, 60000, 60.0, 150.0, (
                "an L-shaped work surface", "a built-in file drawer",
                "grommets for cable routing", "a modesty panel")),
            Noun("Lounge Sofa", 40000, 150000, 80.0, 180.0, (
                "three-seat capacity", "high-density foam cushions",
                "commercial-grade fabric", "solid wood legs")),
        ),
    ),
    Category(
        "Networking",
        "Routers, switches and cabling for reliable wired and wireless office networks.",
        "NET", 25, 45, 8,
        ("Netvane", "Linkstream", "Packetra", "Routemark", "Signalcore",
         "Meshwell", "Gridport", "Wavelane", "Trunkline", "Bandwise"),
        ("Pro", "Gigabit", "Managed", "Business", "Dual-Band", "Tri-Band",
         "Compact", "Enterprise", "Rackmount", "Smart"),
        (
            Noun("Wi-Fi Router", 6000, 30000, 1.0, 3.0, (
                "Wi-Fi 6 dual-band radios", "four gigabit LAN ports",
                "a built-in VPN server", "guest network isolation")),
            Noun("Managed Switch", 12000, 80000, 3.0, 12.0, (
                "24 gigabit ports", "four SFP uplinks",
                "VLAN and QoS support", "a web management interface")),
            Noun("Unmanaged Switch", 2000, 9000, 0.5, 3.0, (
                "eight gigabit ports", "a fanless design",
                "plug-and-play setup", "a metal housing")),
            Noun("Wireless Access Point", 7000, 35000, 1.0, 2.5, (
                "Power over Ethernet input", "ceiling-mount hardware",
                "seamless roaming", "support for 200 clients")),
            Noun("Firewall Appliance", 25000, 120000, 2.0, 10.0, (
                "stateful packet inspection", "site-to-site VPN",
                "intrusion prevention", "dual WAN failover")),
            Noun("Patch Panel", 3000, 12000, 2.0, 5.0, (
                "24 Cat6 keystone ports", "a 1U rackmount frame",
                "color-coded wiring labels", "a rear cable support bar")),
            Noun("Ethernet Cable", 500, 3500, 0.3, 3.0, (
                "Cat6 rated copper", "snagless connectors",
                "a 50-foot length", "a PVC jacket")),
            Noun("Network Attached Storage", 20000, 90000, 4.0, 15.0, (
                "four hot-swap drive bays", "RAID 5 support",
                "dual gigabit ports", "built-in cloud sync")),
            Noun("Mesh Wi-Fi System", 12000, 45000, 2.0, 5.0, (
                "three nodes", "coverage up to 6,000 square feet",
                "a dedicated wireless backhaul", "app-based setup")),
            Noun("Server Rack", 15000, 90000, 40.0, 200.0, (
                "a 42U mounting height", "a locking perforated door",
                "adjustable mounting rails", "removable side panels")),
        ),
    ),
    Category(
        "Printing & Imaging",
        "Printers, scanners and the supplies that keep them producing sharp output.",
        "PRT", 20, 40, 9,
        ("Inkstone", "Printwell", "Tonerix", "Copyvale", "Scanlux",
         "Pagecraft", "Dotwright", "Imagery", "Sharpline", "Hueforge"),
        ("Pro", "High-Yield", "Color", "Monochrome", "Wireless", "Compact",
         "Workgroup", "Office", "Professional", "Desktop"),
        (
            Noun("Laser Printer", 9000, 60000, 15.0, 60.0, (
                "duplex printing", "a 250-sheet paper tray",
                "Wi-Fi and Ethernet connectivity", "up to 40 pages per minute")),
            Noun("Inkjet All-in-One Printer", 5000, 25000, 12.0, 25.0, (
                "print, scan, copy and fax", "a 35-sheet document feeder",
                "mobile printing", "a 2.7-inch touchscreen")),
            Noun("Toner Cartridge", 2500, 9000, 1.5, 4.0, (
                "a 3,000-page yield", "crisp black text",
                "a prepaid recycling label", "drop-in installation")),
            Noun("Ink Cartridge", 1200, 4500, 0.1, 0.5, (
                "a 500-page yield", "fade-resistant pigment ink",
                "a chip-based ink level sensor", "a sealed freshness pack")),
            Noun("Document Scanner", 12000, 60000, 5.0, 12.0, (
                "a 50-sheet automatic feeder", "single-pass duplex scanning",
                "up to 40 pages per minute", "searchable PDF output")),
            Noun("Label Printer", 7000, 30000, 1.5, 5.0, (
                "direct thermal printing", "4 x 6 inch shipping labels",
                "USB and Bluetooth connectivity", "203 dpi resolution")),
            Noun("Receipt Printer", 12000, 35000, 3.0, 6.0, (
                "an auto-cutter", "80 mm thermal paper support",
                "a cash drawer port", "up to 250 mm per second")),
            Noun("Photo Paper Pack", 900, 3000, 1.0, 4.0, (
                "100 sheets of 4 x 6 inch paper", "a high-gloss finish",
                "an instant-dry coating", "a 10 mil thickness")),
            Noun("Wide-Format Printer", 60000, 250000, 40.0, 150.0, (
                "a 24-inch print width", "a roll-feed holder",
                "an automatic sheet cutter", "six-color pigment inks")),
            Noun("Laminator", 3000, 15000, 3.0, 10.0, (
                "a 12.5-inch entry width", "a four-roller system",
                "a one-minute warm-up", "a jam release lever")),
        ),
    ),
    Category(
        "Computer Accessories",
        "Peripherals, cables and add-ons that make every workstation more productive.",
        "ACC", 40, 90, 14,
        ("Keyfield", "Portwise", "Clickmore", "Dockhaven", "Cablewright",
         "Tetherly", "Gripton", "Aerokey", "Snapdock", "Veloxa", "Pivotra"),
        ("Ergonomic", "Wireless", "Pro", "Compact", "Slim", "Travel",
         "Premium", "Portable", "Rugged", "Quiet", "Universal"),
        (
            Noun("Wireless Mouse", 900, 3500, 0.2, 0.5, (
                "a 2.4 GHz receiver", "a 24-month battery life",
                "silent-click buttons", "a 1600 DPI optical sensor")),
            Noun("Mechanical Keyboard", 3000, 12000, 1.5, 3.0, (
                "tactile switches", "per-key backlighting",
                "a detachable USB-C cable", "full n-key rollover")),
            Noun("USB-C Docking Station", 6000, 25000, 0.8, 2.0, (
                "dual 4K display outputs", "100 W pass-through charging",
                "a gigabit Ethernet port", "an SD card reader")),
            Noun("Laptop Backpack", 2500, 9000, 1.5, 3.5, (
                "a padded 15.6-inch sleeve", "water-resistant fabric",
                "a luggage pass-through strap", "a hidden anti-theft pocket")),
            Noun("Monitor Arm", 2500, 12000, 5.0, 15.0, (
                "gas-spring height adjustment", "VESA 75 and 100 mounts",
                "a desk clamp and grommet base", "integrated cable routing")),
            Noun("Webcam", 2500, 12000, 0.3, 0.8, (
                "1080p video at 30 fps", "autofocus",
                "dual noise-reducing microphones", "a built-in privacy shutter")),
            Noun("Portable SSD", 5000, 25000, 0.1, 0.4, (
                "1 TB of storage", "read speeds up to 1,050 MB/s",
                "a drop-resistant shell", "USB-C and USB-A cables")),
            Noun("USB Flash Drive", 400, 3000, 0.02, 0.1, (
                "64 GB of storage", "a USB 3.2 connector",
                "a metal keyring loop", "a retractable cap-free design")),
            Noun("Laptop Stand", 1500, 6000, 1.0, 4.0, (
                "six height settings", "an aluminum build",
                "ventilated airflow", "a fold-flat profile")),
            Noun("Surge Protector", 1200, 5000, 1.0, 3.0, (
                "12 outlets", "a 4,320-joule rating",
                "two USB charging ports", "a 10-foot cord")),
            Noun("HDMI Cable", 300, 2000, 0.2, 0.8, (
                "4K at 60 Hz support", "gold-plated connectors",
                "a braided jacket", "a 10-foot length")),
        ),
    ),
    Category(
        "Breakroom & Janitorial",
        "Coffee, snacks, paper goods and cleaning supplies for shared workspaces.",
        "BRK", 15, 35, 9,
        ("Brewhaven", "Cleanfield", "Sparkwell", "Dayspring", "Pureleaf",
         "Tidewater", "Maplecrest", "Fresh Acre", "Hearthstone", "Glimmer"),
        ("Premium", "Bulk", "Eco", "Commercial", "Value", "Original",
         "Extra-Strength", "Everyday", "Unscented", "Family-Size"),
        (
            Noun("Ground Coffee", 800, 2500, 1.0, 3.0, (
                "a medium roast", "100 percent Arabica beans",
                "a resealable valve bag", "a 32-ounce size")),
            Noun("Paper Towel Case", 2500, 6000, 15.0, 30.0, (
                "12 rolls per case", "two-ply absorbency",
                "select-a-size sheets", "recycled fiber content")),
            Noun("Disinfecting Wipes", 400, 1500, 1.0, 3.5, (
                "75 wipes per canister", "kills 99.9 percent of germs",
                "a bleach-free formula", "a lemon scent")),
            Noun("Trash Bags", 1500, 4500, 5.0, 20.0, (
                "a 33-gallon size", "1.2 mil thickness",
                "drawstring closures", "100 bags per box")),
            Noun("Hand Soap", 400, 1500, 1.0, 4.5, (
                "a foaming pump", "moisturizing aloe",
                "a 1-liter refill size", "a dye-free formula")),
            Noun("Paper Cups", 1500, 4000, 5.0, 12.0, (
                "a 12-ounce size", "double-wall insulation",
                "fitted sip lids", "1,000 cups per case")),
            Noun("Bottled Water Case", 400, 1200, 24.0, 28.0, (
                "24 bottles per case", "16.9-ounce bottles",
                "purified drinking water", "BPA-free plastic")),
            Noun("Single-Serve Coffee Pods", 2000, 5500, 1.5, 4.0, (
                "72 pods per box", "a dark roast blend",
                "recyclable pods", "compatibility with most pod brewers")),
            Noun("Toilet Paper Case", 3500, 7500, 20.0, 40.0, (
                "96 rolls per case", "two-ply softness",
                "septic-safe paper", "500 sheets per roll")),
            Noun("All-Purpose Cleaner", 300, 1200, 2.0, 9.0, (
                "a concentrated formula", "a 1-gallon jug",
                "a streak-free finish", "safety on most hard surfaces")),
            Noun("Commercial Vacuum", 15000, 50000, 10.0, 25.0, (
                "a HEPA filtration system", "a 40-foot power cord",
                "a 14-inch cleaning path", "onboard cleaning tools")),
        ),
    ),
    Category(
        "Books & Training",
        "Reference books, study guides and courses for building workplace skills.",
        "BKT", 35, 70, 6,
        ("Ledgerwood Press", "Brightpath Learning", "Cornerstone Guides",
         "Summit Skills", "Quillbrook", "Keystone Academy", "Ironleaf Books",
         "Harborview Press", "Fieldnote Learning", "Tallowood Publishing"),
        ("Complete", "Essential", "Practical", "Illustrated", "Updated",
         "Advanced", "Beginner's", "Definitive", "Pocket", "Comprehensive"),
        (
            Noun("Management Handbook", 1200, 3500, 1.0, 3.0, (
                "hands-on case studies", "chapter review questions",
                "templates for performance reviews", "a 350-page paperback")),
            Noun("Certification Study Guide", 2000, 6000, 2.0, 4.0, (
                "four full-length practice exams", "objective-by-objective coverage",
                "online flashcards", "an exam-day checklist")),
            Noun("Online Course Enrollment", 2000, 30000, 0.0, 0.1, (
                "12 hours of video lessons", "downloadable worksheets",
                "a completion certificate", "12 months of access")),
            Noun("Workplace Safety Manual", 1500, 5000, 0.8, 2.0, (
                "OSHA-aligned procedures", "incident report templates",
                "emergency action plans", "a spiral binding")),
            Noun("Leadership Workshop Kit", 8000, 35000, 3.0, 10.0, (
                "a facilitator guide", "participant workbooks for 10",
                "slide decks for each session", "group exercise cards")),
            Noun("Spreadsheet Training Course", 3000, 15000, 0.0, 0.1, (
                "pivot table lessons", "practice workbooks",
                "formula and function drills", "self-paced quizzes")),
            Noun("Accounting Reference Guide", 2500, 8000, 2.0, 4.5, (
                "a chart of accounts primer", "worked journal entries",
                "month-end close checklists", "a glossary of terms")),
            Noun("Sales Training Video Series", 5000, 25000, 0.0, 0.1, (
                "20 streaming episodes", "role-play scenarios",
                "objection-handling scripts", "a team progress tracker")),
            Noun("Small Business Tax Guide", 2500, 6500, 2.0, 4.0, (
                "coverage of the current tax year", "deduction checklists",
                "sample filled-in forms", "a recordkeeping calendar")),
            Noun("Compliance Training Seat", 2000, 9000, 0.0, 0.1, (
                "harassment prevention modules", "data privacy lessons",
                "automated completion reports", "annual refresher content")),
        ),
    ),
)

# Deliberately free of category-specific claims (shipping, materials, fit) so
# any sentence can close any product description without contradicting it,
# including software delivered electronically.
BENEFITS: Final[tuple[str, ...]] = (
    "Backed by a one-year limited warranty.",
    "Volume pricing is available on orders of ten or more units.",
    "Our support team is available by phone and email every business day.",
    "Eligible for net-30 terms on approved business accounts.",
    "Tax-exempt organizations can apply their certificate at checkout.",
    "Purchase orders are accepted from qualified businesses and agencies.",
    "Contact your account manager for a custom quote on large orders.",
    "Designed to hold up to everyday business use.",
    "Detailed product documentation is available on request.",
    "A dependable option for budget-conscious buyers.",
    "Consistently rated highly by our business customers.",
    "Quantity discounts are applied automatically in your cart.",
    "Government and education pricing is available.",
    "Every order is covered by our satisfaction guarantee.",
    "Invoices include itemized details for easy expense reporting.",
    "Ask about bundling with related items for additional savings.",
    "Reordering is quick and simple from your online account.",
    "Chosen by office managers for its reliability and value.",
    "Our product specialists can help you choose the right option.",
    "A smart fit for home offices and larger workplaces alike.",
    "We match prices on identical items from authorized sellers.",
    "Trusted by schools, clinics and small offices across the country.",
    "Order history makes it easy to track spending by department.",
)

# Real distribution hubs spread across the country so that generated orders
# can be routed to a plausibly nearby warehouse for any US ship-to address.
WAREHOUSES: Final[tuple[str, ...]] = (
    "Reno, NV (WH-RNO)",
    "Ontario, CA (WH-ONT)",
    "Dallas, TX (WH-DFW)",
    "Memphis, TN (WH-MEM)",
    "Columbus, OH (WH-CMH)",
    "Allentown, PA (WH-ABE)",
)
