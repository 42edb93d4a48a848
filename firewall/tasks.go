package firewall

import (
	"context"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/changeset"
)

// task is one call of the garbage collector's plan.
type task struct {
	verb, name string
	run        func(ctx context.Context) error
}

// runAll runs the tasks through changeset, parallelism at a time, and
// returns one error per task (nil for success) in task order, each naming
// its verb and rule. The calls judge a 404 themselves (Strict).
func runAll(ctx context.Context, tasks []task) []error {
	p := changeset.Plan{Parallelism: parallelism, KeepGoing: true}
	for _, t := range tasks {
		p.Add(changeset.Op{Verb: t.verb, Kind: "firewall", Name: t.name, Strict: true, Call: t.run})
	}
	return p.Run(ctx)
}
