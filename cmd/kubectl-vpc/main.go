// Command kubectl-vpc is a kubectl plugin for clusters served by
// cloud-provider-vpc: `kubectl vpc trace SERVICE` prints the hops and
// rewrites a packet of a LoadBalancer Service meets (package trace).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/internal/version"
)

func main() {
	root := newRootCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	if err := root.ExecuteContext(context.Background()); err != nil {
		os.Exit(1)
	}
}

// newRootCommand is `kubectl vpc` with the kubeconfig flags every kubectl
// command has.
func newRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	kubeFlags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:   "kubectl-vpc",
		Short: "Explain how cloud-provider-vpc serves a cluster's Services",
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl vpc",
		},
		SilenceUsage: true,
		// cobra adds --version for a non-empty Version.
		Version: version.Get().GitVersion,
	}
	root.SetVersionTemplate(version.Line("kubectl-vpc") + "\n")
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	kubeFlags.AddFlags(root.PersistentFlags())
	root.AddCommand(newTraceCommand(kubeFlags, streams))
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date of kubectl-vpc",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), version.Line("kubectl-vpc"))
		},
	})
	return root
}
