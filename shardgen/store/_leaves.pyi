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
def get(
    fd: int,
    file_size: int,
    page_size: int,
    root: int,
    keys: bytes,
    key_size: int,
    /,
) -> list[bytes | None]: ...
