package fakegce

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// stateLog is the state file: an append-only log of committed transactions,
// one JSON line each ({"seq":N,"w":[{"c":coll,"n":name,"o":obj|null},...]}).
// A line is written (to the kernel, with one write call) before the request that
// caused it is answered, so a kill -9 loses nothing that a client was told about.
// At start the log is replayed and rewritten compactly (temp file, fsync, rename).
type stateLog struct {
	path string
	f    *os.File
}

type logWrite struct {
	Coll string         `json:"c"`
	Name string         `json:"n"`
	Obj  map[string]any `json:"o"`
}

type logRecord struct {
	Seq    uint64     `json:"seq"`
	Writes []logWrite `json:"w"`
}

// openStateLog replays path into st (creating an empty file when there is none)
// and leaves the log open for appending. A line that does not decode is an error:
// the server must not start empty in place of a state it cannot read.
func openStateLog(path string, st *store) (*stateLog, error) {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("state file %s: %w", path, err)
	default:
		err := replay(f, st)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("state file %s: %w", path, err)
		}
	}
	if err := compact(path, st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	af, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return &stateLog{path: path, f: af}, nil
}

func replay(r io.Reader, st *store) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			if len(b) == 0 || b[len(b)-1] != '\n' {
				return fmt.Errorf("line %d is cut short (the file is truncated or was written by something else)", line)
			}
			var rec logRecord
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber()
			if derr := dec.Decode(&rec); derr != nil {
				return fmt.Errorf("line %d is not a state record: %v", line, derr)
			}
			ws := make([]*write, 0, len(rec.Writes))
			for _, w := range rec.Writes {
				if w.Coll == "" || w.Name == "" {
					return fmt.Errorf("line %d has a write without a collection or name", line)
				}
				ws = append(ws, &write{coll: w.Coll, name: w.Name, obj: w.Obj})
			}
			st.apply(ws)
			if rec.Seq > st.seq {
				st.seq = rec.Seq
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func compact(path string, st *store) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<20)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(logRecord{Seq: st.seq, Writes: []logWrite{}}); err != nil {
		return err
	}
	for coll := range st.colls {
		for _, name := range st.sortedNames(coll) {
			rec := logRecord{Seq: st.seq, Writes: []logWrite{{Coll: coll, Name: name, Obj: st.colls[coll][name].obj}}}
			if err := enc.Encode(rec); err != nil {
				return err
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (l *stateLog) append(seq uint64, ws []*write) error {
	rec := logRecord{Seq: seq, Writes: make([]logWrite, len(ws))}
	for i, w := range ws {
		rec.Writes[i] = logWrite{Coll: w.coll, Name: w.name, Obj: w.obj}
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode state record: %w", err)
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write state file %s: %w", l.path, err)
	}
	return nil
}

// truncate empties the log (admin reset).
func (l *stateLog) truncate() error {
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("reset state file %s: %w", l.path, err)
	}
	return nil
}

func (l *stateLog) close() error { return l.f.Close() }
