// Package deploy holds the manifests a platform team applies to run
// vpc-cloud-controller-manager (a kustomize base and overlays in this
// directory) and renders them for the tests and the e2e suite.
//
// It only reads and renders files: it never talks to a cluster, and it never
// grants in a manifest what docs/rbac.md does not explain (deploy_test.go
// compares the two).
package deploy
