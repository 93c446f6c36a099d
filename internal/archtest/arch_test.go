package archtest

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/srvthreds/bootstrap/"

// TestArchitectureTableMatchesImports: for every package of the module,
// the packages of the module it imports (tests aside) are exactly those
// its row of docs/architecture.md lists under "depends on".
func TestArchitectureTableMatchesImports(t *testing.T) {
	root := moduleRoot(t)
	rows := tableRows(t, filepath.Join(root, "docs", "architecture.md"))
	imports := moduleImports(t, root)
	for pkg, got := range imports {
		row, ok := rowOf(rows, pkg)
		if !ok {
			t.Errorf("package %s has no row in docs/architecture.md", pkg)
			continue
		}
		if row.everything {
			continue
		}
		for _, imp := range got {
			if !row.lists(imp) {
				t.Errorf("%s imports %s, which its row does not list", pkg, imp)
			}
		}
	}
	for _, r := range rows {
		for _, dep := range r.deps {
			used := false
			for _, pkg := range r.pkgs {
				if slices.Contains(imports[pkg], dep) {
					used = true
				}
			}
			if !used {
				t.Errorf("the row of %v lists %s, which none of them imports", r.pkgs, dep)
			}
		}
	}
}

type row struct {
	pkgs       []string // the packages the row is of
	deps       []string // the module's packages it says they depend on
	everything bool     // "everything below"
}

func (r row) lists(imp string) bool { return slices.Contains(r.deps, imp) }

// rowOf is the row of pkg: its own, else that of the nearest parent that
// has one (a package may share its parent's row only if nothing else says).
func rowOf(rows []row, pkg string) (row, bool) {
	for _, r := range rows {
		if slices.Contains(r.pkgs, pkg) {
			return r, true
		}
	}
	return row{}, false
}

var ticked = regexp.MustCompile("`([^`]+)`")

// tableRows reads the table of packages: its rows start with "| `".
func tableRows(t *testing.T, path string) []row {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) < 3 {
			continue
		}
		var r row
		for _, m := range ticked.FindAllStringSubmatch(cells[0], -1) {
			r.pkgs = append(r.pkgs, m[1])
		}
		deps := cells[len(cells)-1]
		r.everything = strings.Contains(deps, "everything below")
		for _, m := range ticked.FindAllStringSubmatch(deps, -1) {
			if isPackagePath(m[1]) {
				r.deps = append(r.deps, m[1])
			}
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("no package table found")
	}
	return rows
}

// isPackagePath reports whether a ticked word names one of the module's
// top folders (a package path, not a type or a file).
func isPackagePath(s string) bool {
	for _, top := range []string{"cmd/", "conn", "deploy", "health", "internal/", "lock", "profiles", "runner", "store"} {
		if s == strings.TrimSuffix(top, "/") || strings.HasPrefix(s, top) && !strings.ContainsAny(s, ". (") {
			return !strings.Contains(s, ".")
		}
	}
	return false
}

// moduleImports maps each package of the module (relative path) to the
// module's packages it imports, tests aside.
func moduleImports(t *testing.T, root string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	res := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkg := strings.TrimPrefix(p.ImportPath, module)
		if pkg == "internal/archtest" {
			continue
		}
		res[pkg] = nil
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module) {
				res[pkg] = append(res[pkg], strings.TrimPrefix(imp, module))
			}
		}
	}
	return res
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}
