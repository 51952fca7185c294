module example.com/cachemountcrossplatform

go 1.24
