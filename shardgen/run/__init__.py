"""Running shards: the one task runner (`pool`), generation's shard tasks
(`shards`), where they run (`executors`: this machine's pool or a Dask
cluster) and the memory of the process tree while they do (`monitor`)."""
