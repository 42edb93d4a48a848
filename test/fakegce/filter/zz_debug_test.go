package filter

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestZZCorpusTimes(t *testing.T) {
	dir := os.Getenv("CORPUS")
	if dir == "" {
		t.Skip()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	instance := decodeResource(t, instanceJSON)
	type r struct {
		d time.Duration
		s string
		e error
	}
	var rs []r
	for _, f := range files {
		b, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		fl, err := Parse(s)
		if err == nil {
			fl.Match(instance)
		}
		rs = append(rs, r{time.Since(start), s, err})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].d > rs[j].d })
	for _, x := range rs[:min(5, len(rs))] {
		t.Logf("%v len=%d %.300q err=%v", x.d, len(x.s), x.s, x.e)
	}
}
