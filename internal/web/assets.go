package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var staticFS embed.FS

// asset is one static file held in memory with its content checksum.
type asset struct {
	name     string
	body     []byte
	sum      string
	mimeType string
}

// assets serves /static/{checksum}/{name}. The checksum in the URL changes whenever the
// content does, so responses can be cached forever and a new binary never serves stale
// script to an old page.
type assets struct {
	byName map[string]*asset
}

func loadAssets() (*assets, error) {
	as := &assets{byName: map[string]*asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		as.add(strings.TrimPrefix(p, "static/"), body)
		return nil
	})
	if err != nil {
		return nil, err
	}
	css, err := chromaCSS()
	if err != nil {
		return nil, fmt.Errorf("generate highlight css: %w", err)
	}
	as.add("chroma.css", css)
	for _, required := range []string{"app.css", "app.js", "chroma.css"} {
		if as.byName[required] == nil {
			return nil, fmt.Errorf("missing static asset %q", required)
		}
	}
	return as, nil
}

func (as *assets) add(name string, body []byte) {
	sum := sha256.Sum256(body)
	typ := mime.TypeByExtension(path.Ext(name))
	if typ == "" {
		typ = "application/octet-stream"
	}
	as.byName[name] = &asset{name: name, body: body, sum: hex.EncodeToString(sum[:])[:12], mimeType: typ}
}

// url is the template function `asset "app.css"`; an unknown name fails template
// execution, which the start-up render check turns into a start-up failure.
func (as *assets) url(name string) (string, error) {
	a := as.byName[name]
	if a == nil {
		return "", fmt.Errorf("unknown asset %q", name)
	}
	return "/static/" + a.sum + "/" + a.name, nil
}

func (as *assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/static/")
	sum, name, ok := strings.Cut(rest, "/")
	a := as.byName[name]
	if !ok || a == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.mimeType)
	if sum == a.sum {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// An old checksum still gets the current file (a page rendered before an upgrade),
		// just not cached.
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}
