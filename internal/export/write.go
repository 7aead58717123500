package export

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"
)

// rowWriter writes rows of values in the table's column order.
type rowWriter interface {
	header() error
	row(vals ...any) error
	flush() error
}

func newRowWriter(out io.Writer, format string, cols []string) rowWriter {
	if format == JSONL {
		return &jsonlWriter{w: bufio.NewWriterSize(out, 32<<10), cols: cols}
	}
	return &csvWriter{w: csv.NewWriter(out), cols: cols}
}

// csvWriter writes RFC 4180 CSV. A text cell that a spreadsheet would run as a formula
// (=, +, -, @, tab, carriage return first) gets a leading apostrophe: prompts and
// commands are user-controlled text (OWASP's CSV injection advice).
type csvWriter struct {
	w    *csv.Writer
	cols []string
	buf  []string
}

func (c *csvWriter) header() error { return c.w.Write(c.cols) }

func (c *csvWriter) row(vals ...any) error {
	c.buf = c.buf[:0]
	for _, v := range vals {
		c.buf = append(c.buf, cell(v))
	}
	return c.w.Write(c.buf)
}

func (c *csvWriter) flush() error {
	c.w.Flush()
	return c.w.Error()
}

// cell is one value as CSV text: times in RFC 3339 (UTC), unknown values empty, lists
// joined by ";".
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return defuse(x)
	case []string:
		return defuse(strings.Join(x, ";"))
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(time.RFC3339Nano)
	case *time.Time:
		if x == nil {
			return ""
		}
		return cell(*x)
	case *float64:
		if x == nil {
			return ""
		}
		return strconv.FormatFloat(*x, 'f', -1, 64)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// jsonlWriter writes one JSON object a line, keys in column order. Values keep their
// JSON types (numbers, null, arrays; times as RFC 3339 strings).
type jsonlWriter struct {
	w    *bufio.Writer
	cols []string
	line []byte
}

func (j *jsonlWriter) header() error { return nil }

func (j *jsonlWriter) row(vals ...any) error {
	j.line = append(j.line[:0], '{')
	for i, v := range vals {
		if i > 0 {
			j.line = append(j.line, ',')
		}
		j.line = strconv.AppendQuote(j.line, j.cols[i])
		j.line = append(j.line, ':')
		if t, ok := v.(time.Time); ok && t.IsZero() {
			v = nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		j.line = append(j.line, b...)
	}
	j.line = append(j.line, '}', '\n')
	_, err := j.w.Write(j.line)
	return err
}

func (j *jsonlWriter) flush() error { return j.w.Flush() }
