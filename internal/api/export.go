package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/export"
)

type exportInput struct {
	Table   string `path:"table" enum:"sessions,prompts,tool_calls,commits,cost_daily" doc:"What to export."`
	Format  string `query:"format" enum:"csv,jsonl" default:"csv" doc:"CSV with a header row, or JSON Lines (one object a line, same names)."`
	GroupBy string `query:"group_by" enum:"session,model,user,repo" default:"model" doc:"cost_daily: what each row's key is."`
	SessionFilterInput
}

func (a *API) registerExport(api huma.API) {
	huma.Register(api, scoped(huma.Operation{
		OperationID: "export",
		Method:      http.MethodGet,
		Path:        "/v1/export/{table}",
		Summary:     "Export as CSV or JSON Lines",
		Description: "Streams every row of a table: `sessions` (one row a session), `prompts` and `tool_calls` (of the selected sessions; subagent calls carry their launching call as parent), `commits`, and `cost_daily` (per UTC day and group key; from/to default to the last 30 days). The session filters select what is exported (commits use from, to, repo and user). Rows leave as they are read, so a large export starts at once and holds little memory. A text cell that a spreadsheet would run as a formula is prefixed with an apostrophe in CSV.",
		Tags:        []string{"Export"},
		Errors:      []int{http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
		Responses: map[string]*huma.Response{
			"200": {
				Description: "The rows.",
				Content: map[string]*huma.MediaType{
					"text/csv":             {Schema: &huma.Schema{Type: "string"}, Example: "sha,session_id,prompt_id,…\n4f2a9c1,3f1c2a9e-…,b7d1…,…\n"},
					"application/x-ndjson": {Schema: &huma.Schema{Type: "string"}, Example: "{\"sha\":\"4f2a9c1\",\"session_id\":\"3f1c2a9e-…\",…}\n"},
				},
			},
		},
	}, agenttrace.ScopeRead), a.export)
}

func (a *API) export(ctx context.Context, in *exportInput) (*huma.StreamResponse, error) {
	req := export.Request{Table: in.Table, Format: in.Format, Sessions: in.filter(), GroupBy: in.GroupBy}
	if err := export.Check(req); err != nil {
		return nil, huma.Error422UnprocessableEntity(err.Error())
	}
	if in.Table == "cost_daily" {
		r := RangeInput{From: in.From, To: in.To}
		from, to, err := r.bounds()
		if err != nil {
			return nil, err
		}
		req.Sessions.From, req.Sessions.To = from, to
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		r, w := unwrap(hctx)
		a.ServeExport(w, r, req)
	}}, nil
}

// ServeExport streams req to w as a download, answering a failure before the first byte
// with the problem the store's error maps to.
func (a *API) ServeExport(w http.ResponseWriter, r *http.Request, req export.Request) {
	err := export.Serve(w, r, a.store, req, func(err error) {
		var p huma.StatusError
		if !errors.As(a.storeError(r.Context(), "export", err), &p) {
			p = huma.Error503ServiceUnavailable("storage is unavailable; retry later")
		}
		writeProblemHeaders(p.GetStatus(), w.Header().Set)
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(p.GetStatus())
		fmt.Fprintf(w, `{"title":%q,"status":%d,"detail":%q}`, http.StatusText(p.GetStatus()), p.GetStatus(), p.Error())
	})
	if err != nil {
		a.log.Error("export cut short", "table", req.Table, "err", err)
	}
}
