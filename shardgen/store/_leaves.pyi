import mmap

def run(
    map: bytes | memoryview | mmap.mmap,
    page_size: int,
    root: int,
    first: int,
    count: int,
    batch: int,
    /,
) -> tuple[bytes, list[int]]: ...
