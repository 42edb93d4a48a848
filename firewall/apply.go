package firewall

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/api/compute/v1"
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/changeset"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/computeclient"
	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// parallelism bounds the calls Apply and CollectGarbage have in flight.
const parallelism = 4

// Apply carries out a plan made by Diff and returns every failure, each
// named by verb and rule, joined; the plan's conflicts are among them, so a
// Service with a conflict is never reported as done.
//
// Independent calls run in parallel, a few at a time, in three steps so that
// traffic keeps flowing while rules change ("make before break"): inserts of
// new names and patches first, then deletes, then the inserts that replace a
// deleted rule (a change of network or direction). A replacement is not
// inserted if its delete failed.
//
// Apply never patches or deletes a rule without the plan owner's marker. It
// does not trust that Diff saw the rule a moment ago: it reads the rule again
// right before every patch and delete. The API has no precondition for
// firewall rules (a Firewall has no fingerprint), so this read is the check;
// it costs one get per change and nothing on a resync without changes, and it
// also covers plans built by hand and rules replaced since the list. A rule
// that turned out foreign is a Conflict for a patch and left alone for a
// delete. Along the same lines:
//
//   - an insert that finds the name taken (409) reads the rule: if it is
//     ours and equal (a retry whose first answer was lost), that is success;
//     if ours and different, it is patched (or replaced); if foreign, a
//     Conflict;
//   - a delete of a rule already gone (404) is success;
//   - a patch of a rule gone since the plan is an insert.
//
// Every step is idempotent: after a crash or a failed call, the next
// reconcile's Diff and Apply finish the job.
func Apply(ctx context.Context, c *computeclient.Client, plan Plan) error {
	if err := checkOwner(plan.Owner); err != nil {
		return fmt.Errorf("apply firewall plan: %w", err)
	}
	a := &applier{c: c, owner: plan.Owner, log: klog.FromContext(ctx)}
	var errs []error
	for _, cf := range plan.Conflicts {
		errs = append(errs, fmt.Errorf("firewall %s: %w", cf.Name, cf))
	}

	// Step 0: new names and patches; 1: deletes; 2: the inserts that
	// replace a deleted rule, each after its delete and not if that failed.
	ops := changeset.Plan{Parallelism: parallelism, KeepGoing: true}
	replaced := map[string]bool{}
	for _, name := range plan.Deletes {
		replaced[name] = true
	}
	var replacements []changeset.Op
	for _, r := range plan.Inserts {
		op := changeset.Op{Verb: changeset.Insert, Kind: "firewall", Name: r.Name, Strict: true,
			Call: func(ctx context.Context) error { return a.insert(ctx, Normalize(r)) }}
		if replaced[r.Name] {
			del := changeset.Op{Verb: changeset.Delete, Kind: "firewall", Name: r.Name}
			op.Step, op.After = 2, []string{del.Key()}
			replacements = append(replacements, op)
			continue
		}
		ops.Add(op)
	}
	for _, p := range plan.Patches {
		r := p.Rule
		r.Name = p.Name
		ops.Add(changeset.Op{Verb: "patch", Kind: "firewall", Name: p.Name, Strict: true,
			Call: func(ctx context.Context) error { return a.patch(ctx, Normalize(r)) }})
	}
	for _, name := range plan.Deletes {
		ops.Add(changeset.Op{Verb: changeset.Delete, Kind: "firewall", Name: name, Step: 1, Strict: true,
			Call: func(ctx context.Context) error {
				_, err := a.delete(ctx, name)
				return err
			}})
	}
	ops.Add(replacements...)
	errs = append(errs, ops.Run(ctx)...)
	return errors.Join(errs...)
}

// checkOwner refuses the zero Cluster and an unnamed one: their Owns would
// accept descriptions that carry no cluster at all.
func checkOwner(owner ownership.Cluster) error {
	if owner.Name() == "" || owner.Prefix() == "" {
		return errors.New("no owning cluster (build the plan with Diff and ownership.ForCluster)")
	}
	return nil
}

type applier struct {
	c     *computeclient.Client
	owner ownership.Cluster
	log   klog.Logger
}

// insert creates the rule; a 409 means a rule of that name exists, which
// converge then judges.
func (a *applier) insert(ctx context.Context, r Rule) error {
	err := a.c.InsertFirewall(ctx, r.Firewall())
	if err == nil {
		a.log.V(2).Info("Inserted firewall rule", "firewall", r.Name)
		return nil
	}
	if !computeclient.IsConflict(err) {
		return err
	}
	fw, getErr := a.c.GetFirewall(ctx, r.Name)
	if getErr != nil {
		return fmt.Errorf("%w; reading the existing rule: %v", err, getErr)
	}
	return a.converge(ctx, r, fw)
}

// patch re-reads the rule (the marker check) and then converges it.
func (a *applier) patch(ctx context.Context, r Rule) error {
	fw, err := a.c.GetFirewall(ctx, r.Name)
	if computeclient.IsNotFound(err) {
		return a.insert(ctx, r)
	}
	if err != nil {
		return err
	}
	return a.converge(ctx, r, fw)
}

// converge brings fw, just read, to r: nothing if equal, a Conflict if fw is
// foreign, a patch, or a delete and an insert when the API cannot patch.
func (a *applier) converge(ctx context.Context, r Rule, fw *compute.Firewall) error {
	switch {
	case !a.owner.Owns(fw.Name, fw.Description):
		return Conflict{Name: r.Name, Reason: foreignReason(a.owner)}
	case needsReplace(r, fw):
		if err := a.c.DeleteFirewall(ctx, r.Name); err != nil && !computeclient.IsNotFound(err) {
			return fmt.Errorf("delete before re-insert: %w", err)
		}
		if err := a.c.InsertFirewall(ctx, r.Firewall()); err != nil {
			return err
		}
		a.log.V(2).Info("Replaced firewall rule", "firewall", r.Name)
	case !inSync(r, fw):
		if err := a.c.PatchFirewall(ctx, r.Name, patchBody(r)); err != nil {
			return err
		}
		a.log.V(2).Info("Patched firewall rule", "firewall", r.Name)
	}
	return nil
}

// delete removes a rule of the owner. It reports whether a rule was deleted:
// one already gone or found foreign is left, without error.
func (a *applier) delete(ctx context.Context, name string) (bool, error) {
	fw, err := a.c.GetFirewall(ctx, name)
	if computeclient.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !a.owner.Owns(fw.Name, fw.Description) {
		a.log.Info("Not deleting firewall rule without this cluster's marker", "firewall", name)
		return false, nil
	}
	err = a.c.DeleteFirewall(ctx, name)
	if computeclient.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	a.log.V(2).Info("Deleted firewall rule", "firewall", name)
	return true, nil
}

// patchBody is the merge patch that makes an existing rule equal r. Network
// and direction are left out (the API does not change them; Diff replaces
// the rule instead). The lists r writes are always sent, empty or not, and
// the fields r does not write are cleared, so that the rule ends up exactly
// as desired.
func patchBody(r Rule) *compute.Firewall {
	fw := r.Firewall()
	fw.Network, fw.Direction = "", ""
	fw.ForceSendFields = []string{"SourceRanges", "DestinationRanges", "TargetTags", "Allowed",
		"Denied", "SourceTags", "SourceServiceAccounts", "TargetServiceAccounts", "Disabled"}
	return fw
}
