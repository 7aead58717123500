// Package codestyle holds tests that keep the code base readable: no function outside
// tests runs over maxFuncLines lines, and no storage adapter imports another.
package codestyle

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// maxFuncLines is the longest a function may be, from its signature to its closing brace.
// A function that needs more holds phases or cases that want names of their own.
const maxFuncLines = 100

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func TestNoLongFunctions(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	var long []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var body *ast.BlockStmt
			var name string
			switch fn := n.(type) {
			case *ast.FuncDecl:
				body, name = fn.Body, fn.Name.Name
			case *ast.FuncLit:
				body, name = fn.Body, "func literal"
			}
			if body == nil {
				return true
			}
			start, end := fset.Position(n.Pos()).Line, fset.Position(body.Rbrace).Line
			if lines := end - start + 1; lines > maxFuncLines {
				rel, _ := filepath.Rel(root, path)
				long = append(long, rel+":"+itoa(start)+" "+name+" ("+itoa(lines)+" lines)")
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(long)
	for _, l := range long {
		t.Errorf("function over %d lines: %s", maxFuncLines, l)
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

// adapters are the storage packages; each wraps one technology and none may import
// another: cmd/agent-trace-server composes them.
var adapters = []string{"sqlite", "postgres", "clickhouse"}

func TestAdaptersImportNoOtherAdapter(t *testing.T) {
	const prefix = "github.com/agent-trace/agent-trace/internal/"
	for _, a := range adapters {
		out, err := exec.Command("go", "list", "-deps", prefix+a).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", a, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 5 {
			t.Fatalf("go list -deps %s printed %d packages; the check would prove nothing", a, len(deps))
		}
		for _, d := range deps {
			for _, other := range adapters {
				if other != a && d == prefix+other {
					t.Errorf("adapter %s imports adapter %s", a, other)
				}
			}
		}
	}
}
