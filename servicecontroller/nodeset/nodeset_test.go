package nodeset

import (
	"context"
	"testing"
)

func TestAdmit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		applied  []Version // admitted before, in this order, on the same resource
		version  Version
		admitted bool
	}{
		{"the first set is admitted", nil, 3, true},
		{"a newer set is admitted", []Version{3}, 4, true},
		{"the same set again (a retry) is admitted", []Version{3}, 3, true},
		{"an older set after a newer one is refused", []Version{4}, 3, false},
		{"an older set is refused even after a refused one", []Version{5, 2}, 4, false},
		{"an unversioned change is always admitted", []Version{5}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a Applied
			for _, v := range tc.applied {
				a.Admit("group", v)
			}
			if got := a.Admit("group", tc.version); got != tc.admitted {
				t.Errorf("Admit(%d) after %v = %v, want %v", tc.version, tc.applied, got, tc.admitted)
			}
		})
	}
}

func TestAdmitKeepsOneRecordPerResource(t *testing.T) {
	var a Applied
	a.Admit("zone-a", 7)
	if !a.Admit("zone-b", 2) {
		t.Errorf("a set applied to one group refused an older set on another")
	}
}

func TestAnUnversionedChangeRecordsNothing(t *testing.T) {
	var a Applied
	a.Admit("group", 2)
	a.Admit("group", 0)
	if !a.Admit("group", 2) {
		t.Errorf("version 2 was refused after an unversioned change")
	}
}

func TestVersionsTravelInTheContext(t *testing.T) {
	if v := VersionOf(context.Background()); v != 0 {
		t.Errorf("a bare context carries version %d, want 0", v)
	}
	if v := VersionOf(WithVersion(context.Background(), 9)); v != 9 {
		t.Errorf("VersionOf(WithVersion(9)) = %d", v)
	}
	if a, b := Next(), Next(); b <= a {
		t.Errorf("Next gave %d then %d, want increasing", a, b)
	}
}
