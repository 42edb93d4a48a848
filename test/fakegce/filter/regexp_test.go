package filter

import "testing"

func TestRegexpDialectOnInstance(t *testing.T) {
	runMatchCases(t, instanceJSON, []matchCase{
		{name: "an unquoted literal matches the whole name", filter: `name eq k8s-node-1`, want: true},
		{name: "a regular expression matches the whole name", filter: `name eq k8s-.*`, want: true},
		{name: "a regular expression matching only a prefix does not match", filter: `name eq k8s`, want: false},
		{name: "a regular expression matching only a suffix does not match", filter: `name eq node-1`, want: false},
		{name: "an alternation cannot escape the anchoring", filter: `name eq nomatch|k8s`, want: false},
		{name: "an alternation matches when one branch covers the name", filter: `name eq nomatch|k8s-node-1`, want: true},
		{name: "ne matches when the regular expression does not", filter: `name ne .*instance`, want: true},
		{name: "ne does not match when the regular expression does", filter: `name ne k8s-.*`, want: false},
		{name: "a single-quoted literal is accepted", filter: `name eq 'k8s-node-.*'`, want: true},
		{name: "a double-quoted literal is accepted", filter: `name eq "k8s-node-.*"`, want: true},
		{name: "a quoted literal may contain spaces", filter: `cpuPlatform eq "Intel Skylake"`, want: true},
		{name: "an unquoted literal may contain spaces", filter: `cpuPlatform eq Intel Sky.*`, want: true},
		{name: "a backslash-escaped quote stands for the quote", filter: `cpuPlatform ne "Intel \"Skylake\""`, want: true},
		{name: "other backslashes reach the regular expression", filter: `networkInterfaces.networkIP eq "10\.0\.0\.2"`, want: true},
		{name: "a nested field is reached through dots", filter: `scheduling.onHostMaintenance eq MIGRATE`, want: true},
		{name: "a boolean compares as its JSON text", filter: `scheduling.automaticRestart eq true`, want: true},
		{name: "a false boolean does not match true", filter: `canIpForward eq true`, want: false},
		{name: "a label value is reached through labels", filter: `labels.env eq prod`, want: true},
		{name: "a label key with a dash is a valid field", filter: `labels.team eq net-.*`, want: true},
		{name: "a missing label does not match eq", filter: `labels.owner eq .*`, want: false},
		{name: "a missing label matches ne", filter: `labels.owner ne alice`, want: true},
		{name: "a null field is missing", filter: `shieldedInstanceConfig ne x`, want: true},
		{name: "an empty quoted literal matches an empty string", filter: `description eq ""`, want: true},
		{name: "any element of a repeated field can match", filter: `tags.items eq http-.*`, want: true},
		{name: "ne on a repeated field fails when any element matches", filter: `tags.items ne http-.*`, want: false},
		{name: "a path through an array of objects matches any element", filter: `networkInterfaces.networkIP eq 10\.1\..*`, want: true},
		{name: "a path through two arrays matches any element", filter: `networkInterfaces.accessConfigs.natIP eq 34\..*`, want: true},
		{name: "an object is not a scalar value", filter: `scheduling eq .*`, want: false},
		{name: "regular expression flags are RE2 syntax", filter: `status eq (?i)running`, want: true},
		{name: "surrounding spaces are ignored", filter: "  name eq k8s-node-1  ", want: true},
		{name: "parenthesised terms are ANDed and all match", filter: `(name eq k8s-.*) (status eq RUNNING)`, want: true},
		{name: "parenthesised terms are ANDed and one fails", filter: `(name eq k8s-.*) (status ne RUNNING)`, want: false},
		{name: "parenthesised terms may be written without spaces between", filter: `(name eq k8s-.*)(labels.env eq prod)`, want: true},
		{name: "a single parenthesised term is accepted", filter: `(labels.env eq prod)`, want: true},
		{name: "a parenthesised term may hold a group", filter: `(name eq (k8s|gke)-node-[0-9]+) (zone eq .*/us-central1-a)`, want: true},
		{name: "a parenthesised term may hold an escaped parenthesis", filter: `(name ne a\)) (status eq RUNNING)`, want: true},
		{name: "a parenthesised term may hold a quoted parenthesis", filter: `(cpuPlatform ne "[)]") (status eq RUNNING)`, want: true},
		{name: "a quoted literal in parentheses may have spaces", filter: `(cpuPlatform eq "Intel Skylake") (status eq RUNNING)`, want: true},
		{name: "eq inside a quoted AIP value does not switch dialect", filter: `description != "a eq b"`, want: true},
	})
}

func TestRegexpDialectOnFirewall(t *testing.T) {
	runMatchCases(t, firewallJSON, []matchCase{
		{name: "a number compares as its JSON text", filter: `priority eq 1000`, want: true},
		{name: "a number's text is matched whole", filter: `priority eq 100`, want: false},
		{name: "an int64 string compares as text", filter: `id eq 18446744073709551615`, want: true},
		{name: "a repeated scalar field matches any element", filter: `sourceRanges eq 0\.0\.0\.0/0`, want: true},
		{name: "a repeated field nested in an array matches any element", filter: `allowed.ports eq 443`, want: true},
		{name: "the load balancer's firewall lookup matches", filter: `name eq k8s-fw-.*`, want: true},
	})
}
