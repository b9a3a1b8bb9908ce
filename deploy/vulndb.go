//go:build ignore

// Builds a Go vulnerability database in the v1 layout read by
// `govulncheck -db file://DIR` from a directory of OSV JSON entries, such as
// data/osv/ of the module golang.org/x/vulndb:
//
//	DIR/index/db.json       {"modified": newest entry modification}
//	DIR/index/modules.json  per module: each entry's ID, modified, latest fixed version
//	DIR/index/vulns.json    per entry: ID, modified, aliases
//	DIR/ID/<ID>.json        the entry itself
//
// The index files match, byte for byte, those of golang.org/x/vulndb's own
// cmd/indexdb, which does the same job but needs several hundred megabytes of
// modules to build. This file uses the standard library only.
//
// Usage: go run deploy/vulndb.go -vulns DIR -out DIR
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

type entry struct {
	ID       string   `json:"id"`
	Modified string   `json:"modified"`
	Aliases  []string `json:"aliases"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []struct {
			Type   string `json:"type"`
			Events []struct {
				Introduced string `json:"introduced"`
				Fixed      string `json:"fixed"`
			} `json:"events"`
		} `json:"ranges"`
	} `json:"affected"`
}

type dbMeta struct {
	Modified string `json:"modified"`
}

type module struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type moduleVuln struct {
	ID       string `json:"id"`
	Modified string `json:"modified"`
	Fixed    string `json:"fixed,omitempty"`
}

type vuln struct {
	ID       string   `json:"id"`
	Modified string   `json:"modified"`
	Aliases  []string `json:"aliases,omitempty"`
}

func main() {
	vulnsDir := flag.String("vulns", "", "directory containing OSV JSON entries")
	outDir := flag.String("out", "", "directory to write the database to")
	flag.Parse()
	if *vulnsDir == "" || *outDir == "" {
		log.Fatal("usage: vulndb -vulns DIR -out DIR")
	}
	if err := build(*vulnsDir, *outDir); err != nil {
		log.Fatal(err)
	}
}

func build(vulnsDir, outDir string) error {
	var (
		newest  time.Time
		modules = map[string]*module{}
		vulns   []vuln
		seen    = map[string]bool{}
	)
	idDir := filepath.Join(outDir, "ID")
	if err := os.MkdirAll(idDir, 0o755); err != nil {
		return err
	}
	err := filepath.WalkDir(vulnsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() == "index.json" || filepath.Ext(d.Name()) != ".json" {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		if e.ID == "" || strings.ContainsAny(e.ID, `/\`) {
			return fmt.Errorf("%s: bad id %q", path, e.ID)
		}
		if seen[e.ID] {
			return fmt.Errorf("%s: id %q appears twice", path, e.ID)
		}
		seen[e.ID] = true
		modified, err := time.Parse(time.RFC3339, e.Modified)
		if err != nil {
			return fmt.Errorf("%s: modified: %v", path, err)
		}
		modified = modified.UTC()
		if modified.After(newest) {
			newest = modified
		}
		mod := modified.Format(time.RFC3339)

		for _, a := range e.Affected {
			m := modules[a.Package.Name]
			if m == nil {
				m = &module{Path: a.Package.Name, Vulns: []moduleVuln{}}
				modules[a.Package.Name] = m
			}
			fixed := ""
			for _, r := range a.Ranges {
				if r.Type != "SEMVER" {
					continue
				}
				for _, ev := range r.Events {
					if ev.Fixed != "" && before(fixed, ev.Fixed) {
						fixed = ev.Fixed
					}
				}
				// Re-introduced after the latest fix: no fixed version.
				for _, ev := range r.Events {
					if ev.Introduced != "" && ev.Introduced != "0" && before(fixed, ev.Introduced) {
						fixed = ""
						break
					}
				}
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: mod, Fixed: fixed})
		}
		vulns = append(vulns, vuln{ID: e.ID, Modified: mod, Aliases: e.Aliases})

		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		return os.WriteFile(filepath.Join(idDir, e.ID+".json"), compact.Bytes(), 0o644)
	})
	if err != nil {
		return err
	}

	mods := make([]*module, 0, len(modules))
	for _, m := range modules {
		sort.SliceStable(m.Vulns, func(i, j int) bool { return m.Vulns[i].ID < m.Vulns[j].ID })
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	sort.Slice(vulns, func(i, j int) bool { return vulns[i].ID < vulns[j].ID })

	indexDir := filepath.Join(outDir, "index")
	if err := os.MkdirAll(indexDir, 0o755); err != nil {
		return err
	}
	for name, v := range map[string]any{
		"db.json":      dbMeta{Modified: newest.Format(time.RFC3339)},
		"modules.json": mods,
		"vulns.json":   vulns,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(indexDir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// before reports whether v < w for unprefixed semantic versions, ordered as
// golang.org/x/mod/semver orders "v"+v and "v"+w: an invalid version sorts
// before every valid one.
func before(v, w string) bool { return compare(v, w) < 0 }

type semver struct {
	major, minor, patch string
	prerelease          []string
}

func compare(v, w string) int {
	a, aok := parse(v)
	b, bok := parse(w)
	switch {
	case !aok && !bok:
		return 0
	case !aok:
		return -1
	case !bok:
		return 1
	}
	for _, c := range [][2]string{{a.major, b.major}, {a.minor, b.minor}, {a.patch, b.patch}} {
		if r := compareNum(c[0], c[1]); r != 0 {
			return r
		}
	}
	// A version without prerelease sorts after any prerelease of it.
	switch {
	case a.prerelease == nil && b.prerelease == nil:
		return 0
	case a.prerelease == nil:
		return 1
	case b.prerelease == nil:
		return -1
	}
	for i := 0; i < len(a.prerelease) && i < len(b.prerelease); i++ {
		x, y := a.prerelease[i], b.prerelease[i]
		xn, yn := isNum(x), isNum(y)
		var r int
		switch {
		case xn && yn:
			r = compareNum(x, y)
		case xn:
			r = -1
		case yn:
			r = 1
		default:
			r = strings.Compare(x, y)
		}
		if r != 0 {
			return r
		}
	}
	switch {
	case len(a.prerelease) < len(b.prerelease):
		return -1
	case len(a.prerelease) > len(b.prerelease):
		return 1
	}
	return 0
}

// parse accepts what golang.org/x/mod/semver accepts after its "v":
// MAJOR, MAJOR.MINOR or MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD].
func parse(v string) (s semver, ok bool) {
	var rest string
	if s.major, rest, ok = number(v); !ok {
		return s, false
	}
	if rest == "" {
		s.minor, s.patch = "0", "0"
		return s, true
	}
	if rest[0] != '.' {
		return s, false
	}
	if s.minor, rest, ok = number(rest[1:]); !ok {
		return s, false
	}
	if rest == "" {
		s.patch = "0"
		return s, true
	}
	if rest[0] != '.' {
		return s, false
	}
	if s.patch, rest, ok = number(rest[1:]); !ok {
		return s, false
	}
	if strings.HasPrefix(rest, "-") {
		pre, build, hasBuild := strings.Cut(rest[1:], "+")
		for _, id := range strings.Split(pre, ".") {
			if !isIdent(id) || (isNum(id) && len(id) > 1 && id[0] == '0') {
				return s, false
			}
		}
		s.prerelease = strings.Split(pre, ".")
		rest = ""
		if hasBuild {
			rest = "+" + build
		}
	}
	if strings.HasPrefix(rest, "+") {
		for _, id := range strings.Split(rest[1:], ".") {
			if !isIdent(id) {
				return s, false
			}
		}
		rest = ""
	}
	return s, rest == ""
}

// number splits a decimal number without leading zeros off the front of s.
func number(s string) (num, rest string, ok bool) {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 || (i > 1 && s[0] == '0') {
		return "", "", false
	}
	return s[:i], s[i:], true
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

func isNum(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func compareNum(x, y string) int {
	if len(x) != len(y) {
		if len(x) < len(y) {
			return -1
		}
		return 1
	}
	return strings.Compare(x, y)
}
