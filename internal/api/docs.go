package api

import (
	"bytes"
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// docsOperation is one row of the /docs page.
type docsOperation struct {
	Method, Path, ID, Summary, Description string
	Tags                                   []string
	Params                                 []*huma.Param
	Request                                string
	Responses                              []docsResponse
	Secured                                bool
}

type docsResponse struct{ Status, Description, Schema string }

// registerDocs serves /docs as a page rendered on the server from the OpenAPI document.
// huma's default page loads its renderer from a CDN; ours works offline, like the
// dashboard, and needs no script at all.
func (a *API) registerDocs() {
	a.apiMux.HandleFunc("GET /docs", func(w http.ResponseWriter, r *http.Request) {
		a.docsOnce.Do(func() { a.docsHTML, a.docsErr = renderDocs(a.api.OpenAPI()) })
		if a.docsErr != nil {
			a.log.Error("render /docs", "err", a.docsErr)
			http.Error(w, "the API description could not be rendered", http.StatusServiceUnavailable)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		w.Write(a.docsHTML)
	})
}

func renderDocs(doc *huma.OpenAPI) ([]byte, error) {
	var ops []docsOperation
	for path, item := range doc.Paths {
		for _, m := range []struct {
			method string
			op     *huma.Operation
		}{{"GET", item.Get}, {"POST", item.Post}, {"PUT", item.Put}, {"PATCH", item.Patch}, {"DELETE", item.Delete}} {
			if m.op == nil || m.op.Hidden {
				continue
			}
			op := docsOperation{
				Method: m.method, Path: path, ID: m.op.OperationID, Summary: m.op.Summary,
				Description: m.op.Description, Tags: m.op.Tags, Params: m.op.Parameters,
				Secured: len(m.op.Security) > 0,
			}
			if rb := m.op.RequestBody; rb != nil {
				for _, mt := range rb.Content {
					if mt.Schema != nil {
						op.Request = schemaName(mt.Schema)
					}
				}
			}
			for status, resp := range m.op.Responses {
				dr := docsResponse{Status: status, Description: resp.Description}
				for _, mt := range resp.Content {
					if mt.Schema != nil {
						dr.Schema = schemaName(mt.Schema)
					}
				}
				op.Responses = append(op.Responses, dr)
			}
			slices.SortFunc(op.Responses, func(a, b docsResponse) int { return strings.Compare(a.Status, b.Status) })
			ops = append(ops, op)
		}
	}
	order := map[string]int{"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
	slices.SortFunc(ops, func(a, b docsOperation) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return order[a.Method] - order[b.Method]
	})
	var buf bytes.Buffer
	err := docsTemplate.Execute(&buf, struct {
		Title, Version, Description string
		Operations                  []docsOperation
	}{doc.Info.Title, doc.Info.Version, doc.Info.Description, ops})
	return buf.Bytes(), err
}

func schemaName(s *huma.Schema) string {
	switch {
	case s.Ref != "":
		return strings.TrimPrefix(s.Ref, "#/components/schemas/")
	case s.Type == "array" && s.Items != nil:
		return "[]" + schemaName(s.Items)
	}
	return s.Type
}

var docsTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} {{.Version}}</title>
<style>
:root{color-scheme:light dark;font-family:system-ui,sans-serif;line-height:1.45}
body{max-width:60rem;margin:0 auto;padding:1rem}
code,pre{font-family:ui-monospace,monospace;font-size:.9em}
pre{white-space:pre-wrap}
section{border:1px solid #8884;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.m{display:inline-block;min-width:4.5rem;font-weight:700}
.GET{color:#1a7f37}.POST{color:#0969da}.DELETE{color:#cf222e}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.2rem .5rem;border-top:1px solid #8883;vertical-align:top}
</style></head><body>
<h1>{{.Title}} <small>{{.Version}}</small></h1>
<pre>{{.Description}}</pre>
<p>The machine-readable description: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<nav><ul>{{range .Operations}}<li><a href="#{{.ID}}"><code>{{.Method}} {{.Path}}</code></a> {{.Summary}}</li>{{end}}</ul></nav>
{{range .Operations}}<section id="{{.ID}}">
<h2><span class="m {{.Method}}">{{.Method}}</span><code>{{.Path}}</code></h2>
<p><strong>{{.Summary}}</strong>{{if .Secured}} · needs a token when auth is on{{end}}</p>
{{if .Description}}<pre>{{.Description}}</pre>{{end}}
{{if .Params}}<h3>Parameters</h3><table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>
{{range .Params}}<tr><td><code>{{.Name}}</code>{{if .Required}} *{{end}}</td><td>{{.In}}</td><td>{{if .Schema}}{{.Schema.Type}}{{end}}</td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
{{if .Request}}<h3>Request body</h3><p><code>{{.Request}}</code></p>{{end}}
<h3>Responses</h3><table>{{range .Responses}}<tr><td><code>{{.Status}}</code></td><td>{{.Description}}</td><td>{{if .Schema}}<code>{{.Schema}}</code>{{end}}</td></tr>{{end}}</table>
</section>{{end}}
</body></html>
`))
