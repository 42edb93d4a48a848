package firewall

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/changeset"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// RuleService is the Service a rule's description names: its UID
// (ownership.ServiceUIDKey) and, when the rule carries it, its
// namespace/name (ownership.ServiceKey).
type RuleService struct {
	UID string
	Key string
}

// CollectGarbage deletes the cluster's firewall rules whose Service is gone.
// It lists the rules whose names carry owner's prefix (one list call), and
// deletes those that carry owner's marker and a Service UID (the description
// key ownership.ServiceUIDKey) for which live answers false. A rule without a
// Service UID, or without the marker, is left alone. Each delete re-reads the
// rule first, as Apply does.
//
// network is the link of the cluster's network (in the host project under
// Shared VPC). A rule on another network is left alone whatever its marker:
// a cluster of the same name on another VPC of the project, or on another
// network of the host project, lists the same rules and marks them alike,
// but its Services are not ones live knows. Links are compared by project
// and name (sameNetwork), as Diff compares them.
//
// live is called once per rule, from this goroutine, after the rules were
// listed. Callers run CollectGarbage at start and periodically, after their
// informers synced, so that live knows every Service. It returns the names
// deleted, sorted.
func CollectGarbage(ctx context.Context, c *computeclient.Client, owner ownership.Cluster, network string, live func(RuleService) bool) ([]string, error) {
	if err := checkOwner(owner); err != nil {
		return nil, fmt.Errorf("collect firewall garbage: %w", err)
	}
	if network == "" {
		return nil, fmt.Errorf("collect firewall garbage of cluster %s: no network given", owner.Name())
	}
	fws, err := c.ListFirewalls(ctx, owner.NamePattern())
	if err != nil {
		return nil, fmt.Errorf("list firewalls of cluster %s: %w", owner.Name(), err)
	}
	a := &applier{c: c, owner: owner, log: klog.FromContext(ctx)}
	var dead []string
	for _, fw := range fws {
		if !owner.Owns(fw.Name, fw.Description) || !SameNetwork(network, fw.Network) {
			continue
		}
		keys, _ := ownership.Parse(fw.Description)
		uid := keys[ownership.ServiceUIDKey]
		if uid == "" || live(RuleService{UID: uid, Key: keys[ownership.ServiceKey]}) {
			continue
		}
		dead = append(dead, fw.Name)
	}
	slices.Sort(dead)

	gone := make([]bool, len(dead))
	ops := changeset.Plan{Parallelism: parallelism, KeepGoing: true}
	for i, name := range dead {
		// Strict: a.delete judges a 404 itself (gone stays false for it).
		ops.Add(changeset.Op{Verb: changeset.Delete, Kind: "firewall", Name: name, Strict: true, Call: func(ctx context.Context) error {
			var err error
			gone[i], err = a.delete(ctx, name)
			return err
		}})
	}
	errs := ops.Run(ctx)
	var deleted []string
	for i, name := range dead {
		if gone[i] {
			deleted = append(deleted, name)
		}
	}
	return deleted, errors.Join(errs...)
}
