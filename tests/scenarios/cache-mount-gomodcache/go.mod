module example.com/cachemountgomodcache

go 1.24
