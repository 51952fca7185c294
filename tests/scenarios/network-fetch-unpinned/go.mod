module example.com/networkfetchunpinned

go 1.24
