"""The benchmark: a data generator, a private PostgreSQL cluster, and a runner that drives
our server and PostGraphile with wrk and writes bench/RESULTS.md."""
