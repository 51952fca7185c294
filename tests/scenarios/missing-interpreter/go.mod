module example.com/missinginterpreter

go 1.24
