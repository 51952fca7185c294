module example.com/fp

go 1.24
