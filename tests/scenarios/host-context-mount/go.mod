module example.com/hostcontextmount

go 1.24
