module example.com/platformcollapsehardcoded

go 1.24
