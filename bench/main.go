package main

import (
	_ "github.com/redis/go-redis/v9"
	_ "go.mongodb.org/mongo-driver/v2/mongo"
	_ "gonum.org/v1/plot"
)

func main() {}
