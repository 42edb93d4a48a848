// Command kubectl-vpc stands in for the real one in hack/release's tests: it
// prints the version its build was stamped with.
package main

import "fmt"

var version = "unstamped"

func main() { fmt.Println("kubectl-vpc", version) }
