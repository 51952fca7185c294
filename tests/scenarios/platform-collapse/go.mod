module example.com/platformcollapse

go 1.24
