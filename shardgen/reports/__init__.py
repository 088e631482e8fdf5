"""Reading a dataset back as figures: `statistics` (`shardgen stats`: counts
and shares), `targets` (those shares against the realism targets), `business`
(`shardgen report`: the business report's figures), `rendering` (both as text,
and the report as one HTML page built from `page`'s parts)."""
