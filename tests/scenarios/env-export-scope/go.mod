module example.com/envexportscope

go 1.24
