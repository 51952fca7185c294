module example.com/go-multiarch

go 1.24
