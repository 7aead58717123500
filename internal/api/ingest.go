package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/agenttrace"
	"github.com/agent-trace/agent-trace/internal/audit"
	"github.com/agent-trace/agent-trace/internal/auth"
)

// IngestResponse is the answer to an accepted batch.
type IngestResponse struct {
	Stored     int `json:"stored" doc:"Events stored for the first time." example:"498"`
	Duplicates int `json:"duplicates" doc:"Events whose ID was already stored; they changed nothing." example:"2"`
}

type ingestInput struct {
	// The body is decoded by hand so malformed JSON (400), a wrong shape or an invalid
	// event (422) and an oversized batch (413) each get their own precise problem.
	RawBody []byte
}

type ingestOutput struct {
	Body IngestResponse
}

// maxProblemDetails caps how many invalid events one 422 lists.
const maxProblemDetails = 100

func (a *API) registerIngest(api huma.API) {
	op := scoped(huma.Operation{
		OperationID: "ingest-events",
		Method:      http.MethodPost,
		Path:        "/v1/hooks",
		Summary:     "Ingest a batch of events",
		Description: fmt.Sprintf(`Stores a batch of at most %d events (body at most %d bytes), all or nothing, idempotently by event ID: events already stored are counted as duplicates and change nothing.

With a token bound to a user, every event without a user gets the token's user; an event naming another user, or adding to a session stored under another user, is refused with 403 naming the event's index and both users, and nothing is stored (an admin token may relay any user's events). Tokens without a user (made before tokens had users) keep each event's user.

Every event is validated first; if any is invalid the answer is 422 naming each bad event's index and field, and nothing is stored, so a sender can split the batch to find the bad ones. Malformed JSON is 400, an oversized body or batch 413. A 503 means storage is unavailable: retry with backoff.`, event.MaxBatchEvents, a.opts.MaxBodyBytes),
		Tags:             []string{"Ingest"},
		MaxBodyBytes:     a.opts.MaxBodyBytes,
		BodyReadTimeout:  a.opts.BodyReadTimeout,
		SkipValidateBody: true,
		RequestBody: &huma.RequestBody{
			Required:    true,
			Description: "A batch of events, as agent-trace-hook's deliverer sends them.",
			Content: map[string]*huma.MediaType{
				"application/json": {
					Schema:  api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[event.Batch](), true, "Batch"),
					Example: exampleBatch,
				},
			},
		},
		Errors: []int{http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, agenttrace.ScopeIngest)
	huma.Register(api, op, a.ingest)
	// The raw-body input adds an octet-stream alternative to the document; the only
	// accepted body is the JSON batch.
	if pi := api.OpenAPI().Paths["/v1/hooks"]; pi != nil && pi.Post != nil && pi.Post.RequestBody != nil {
		delete(pi.Post.RequestBody.Content, "application/octet-stream")
	}
}

func (a *API) ingest(ctx context.Context, in *ingestInput) (*ingestOutput, error) {
	start := time.Now()
	events, err := decodeBatch(in.RawBody)
	if err != nil {
		var se huma.StatusError
		outcome := "invalid"
		if errors.As(err, &se) {
			switch se.GetStatus() {
			case http.StatusBadRequest:
				outcome = "malformed"
			case http.StatusRequestEntityTooLarge:
				outcome = "too_large"
			}
		}
		a.metrics.batches.WithLabelValues(outcome).Inc()
		return nil, err
	}
	if err := auth.BindEvents(ctx, auth.TokenFrom(ctx), events, a.store); err != nil {
		return nil, a.bindProblem(ctx, err)
	}
	res, err := a.store.Ingest(ctx, events)
	if err != nil {
		switch {
		case errors.Is(err, agenttrace.ErrInvalid):
			a.metrics.batches.WithLabelValues("invalid").Inc()
		case clientGone(ctx, err):
			a.metrics.batches.WithLabelValues("client_gone").Inc()
		default:
			a.metrics.batches.WithLabelValues("store_error").Inc()
		}
		return nil, a.storeError(ctx, "ingest", err)
	}
	a.metrics.batches.WithLabelValues("ok").Inc()
	a.metrics.events.Add(float64(res.Stored))
	a.metrics.duplicates.Add(float64(res.Duplicates))
	a.metrics.latency.Observe(time.Since(start).Seconds())
	a.pub.Notify(res, events)
	return &ingestOutput{Body: IngestResponse{Stored: res.Stored, Duplicates: res.Duplicates}}, nil
}

// bindProblem answers a batch auth.BindEvents refused: 403 naming the event's index and
// both users for a user mismatch (nothing was stored), else the store's failure.
func (a *API) bindProblem(ctx context.Context, err error) error {
	var mm *auth.UserMismatch
	if errors.As(err, &mm) {
		a.metrics.batches.WithLabelValues("forbidden").Inc()
		a.denied(auth.TokenFrom(ctx), audit.Remote(ctx), "POST /v1/hooks", err)
		d := &huma.ErrorDetail{Location: fmt.Sprintf("body.events[%d].user", mm.Index), Message: mm.Error(), Value: mm.EventUser}
		if mm.SessionUser != "" {
			d.Location = fmt.Sprintf("body.events[%d].session_id", mm.Index)
			d.Value = mm.SessionID
		}
		return huma.Error403Forbidden(mm.Error()+"; nothing was stored", d)
	}
	a.metrics.batches.WithLabelValues("store_error").Inc()
	return a.storeError(ctx, "ingest: check session owners", err)
}

// decodeBatch parses and validates a batch body, returning a problem for bad input.
func decodeBatch(body []byte) ([]event.Event, error) {
	var b event.Batch
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, decodeProblem(err)
	}
	if b.Events == nil {
		return nil, huma.Error422UnprocessableEntity("validation failed; nothing was stored",
			&huma.ErrorDetail{Location: "body.events", Message: "is required: the body must be {\"events\": [...]}"})
	}
	if len(b.Events) > event.MaxBatchEvents {
		return nil, huma.Error413RequestEntityTooLarge(fmt.Sprintf(
			"batch has %d events, more than the %d allowed; split it", len(b.Events), event.MaxBatchEvents))
	}
	var details []error
	for i := range b.Events {
		err := b.Events[i].Validate()
		if err == nil {
			continue
		}
		d := &huma.ErrorDetail{Location: fmt.Sprintf("body.events[%d]", i), Message: err.Error(), Value: b.Events[i].ID}
		var fe *event.FieldError
		if errors.As(err, &fe) {
			d.Location += "." + fe.Field
			d.Message = fe.Field + " " + fe.Problem
		}
		details = append(details, d)
		if len(details) == maxProblemDetails {
			break
		}
	}
	if len(details) > 0 {
		return nil, huma.Error422UnprocessableEntity(
			fmt.Sprintf("%d invalid event(s) (the first at index %s); nothing was stored", len(details), firstIndex(details)),
			details...)
	}
	return b.Events, nil
}

func firstIndex(details []error) string {
	var d *huma.ErrorDetail
	if errors.As(details[0], &d) {
		return d.Location
	}
	return "?"
}

// decodeProblem sorts JSON failures: text that is not JSON at all is 400; JSON of the
// wrong shape (an array, a string where a number belongs, a bad timestamp) is 422 at the
// field it concerns.
func decodeProblem(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
		return huma.Error400BadRequest("malformed JSON: "+err.Error(),
			&huma.ErrorDetail{Location: "body", Message: fmt.Sprintf("%v (at byte %d)", err, offset(syn))})
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		loc := "body"
		if te.Field != "" {
			loc += "." + te.Field
		}
		return huma.Error422UnprocessableEntity("validation failed; nothing was stored",
			&huma.ErrorDetail{Location: loc, Message: fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)})
	}
	return huma.Error422UnprocessableEntity("validation failed; nothing was stored",
		&huma.ErrorDetail{Location: "body", Message: err.Error()})
}

func offset(syn *json.SyntaxError) int64 {
	if syn == nil {
		return 0
	}
	return syn.Offset
}

var exampleBatch = map[string]any{
	"events": []map[string]any{{
		"id":          "evt_5f0c6b1e3b9f4c2a8d7e6f5a4b3c2d1e",
		"kind":        "hook",
		"session_id":  "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60",
		"time":        "2026-11-25T12:00:00Z",
		"tier":        2,
		"hook_event":  "PreToolUse",
		"tool_use_id": "toolu_01ABCDEF",
		"tool_name":   "Bash",
		"user":        "ada",
		"host":        "laptop",
		"payload":     map[string]any{"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": map[string]any{"command": "go test ./..."}},
	}},
}
