package web

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/agent-trace/agent-trace/internal/agenttrace"
)

const (
	defaultCostDays = 30
	maxCostDays     = 366
	chartSeries     = 8 // the rest are stacked as "other"
)

type costsData struct {
	From, To   string // YYYY-MM-DD, inclusive, as the form shows them
	By         string
	ByOtherURL string
	Summary    agenttrace.Summary
	Chart      template.HTML
	Legend     []legendItem
	Top        []sessionRow
	Days       int
	HasSpend   bool
	AvgPerDay  float64
	RangeLinks []rangeLink
	Budgets    budgetsView
}

type legendItem struct {
	Class, Label, Href string
	CostUSD            float64
}

type rangeLink struct {
	Label, Href string
	Current     bool
}

func (a *app) costsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	from, to, err := parseDayRange(q, today)
	if err != nil {
		a.renderError(w, r, http.StatusBadRequest, "Bad date", err.Error())
		return
	}
	by := agenttrace.GroupByModel
	if q.Get("by") == agenttrace.GroupBySession {
		by = agenttrace.GroupBySession
	}
	end := to.AddDate(0, 0, 1) // the form's "to" is inclusive; the store's range is not

	ctx := r.Context()
	sum, err := a.store.Summary(ctx, from, end)
	if err != nil {
		a.fail(w, r, "total costs", err)
		return
	}
	daily, err := a.store.DailyCost(ctx, from, end, by)
	if err != nil {
		a.fail(w, r, "load daily costs", err)
		return
	}
	top, err := a.store.ListSessions(ctx, agenttrace.SessionFilter{From: from, To: end, Sort: "cost", Desc: true, Limit: 10})
	if err != nil {
		a.fail(w, r, "list top sessions", err)
		return
	}

	d := costsData{
		From: from.Format("2006-01-02"), To: to.Format("2006-01-02"), By: by,
		Summary: sum, Days: int(end.Sub(from).Hours() / 24),
	}
	other := agenttrace.GroupBySession
	if by == agenttrace.GroupBySession {
		other = agenttrace.GroupByModel
	}
	d.ByOtherURL = "/costs?" + url.Values{"from": {d.From}, "to": {d.To}, "by": {other}}.Encode()
	d.RangeLinks = rangeLinks("/costs", today, d.From, d.To, url.Values{"by": {by}})
	for _, s := range top.Sessions {
		if s.CostUSD != nil && *s.CostUSD > 0 {
			d.Top = append(d.Top, sessionRow{SessionSummary: s, RepoLabel: repoLabel(s), Spun: isSpun(s)})
		}
	}
	if d.Budgets, err = a.budgets(ctx); err != nil {
		a.fail(w, r, "budgets", err)
		return
	}
	d.Chart, d.Legend = costChart(daily, from, end, by)
	d.HasSpend = sum.CostUSD > 0 || len(daily) > 0
	if d.Days > 0 {
		d.AvgPerDay = sum.CostUSD / float64(d.Days)
	}
	a.render(w, r, http.StatusOK, "costs", "layout", page{Title: "Costs", Nav: "costs", Data: d})
}

// parseDayRange reads the from and to days (inclusive, YYYY-MM-DD) of a page's range
// form: the last defaultCostDays by default, swapped when reversed, at most maxCostDays.
func parseDayRange(q url.Values, today time.Time) (from, to time.Time, err error) {
	from, to = today.AddDate(0, 0, -(defaultCostDays-1)), today
	if s := q.Get("from"); s != "" {
		if from, err = time.Parse("2006-01-02", s); err != nil {
			return from, to, badRequest("dates must look like 2026-01-31")
		}
	}
	if s := q.Get("to"); s != "" {
		if to, err = time.Parse("2006-01-02", s); err != nil {
			return from, to, badRequest("dates must look like 2026-01-31")
		}
	}
	if to.Before(from) {
		from, to = to, from
	}
	if days := int(to.Sub(from).Hours()/24) + 1; days > maxCostDays {
		from = to.AddDate(0, 0, -(maxCostDays - 1))
	}
	return from, to, nil
}

// rangeLinks are the 7, 30 and 90 day shortcuts of a range form on page path, keeping
// the other query values in keep.
func rangeLinks(path string, today time.Time, from, to string, keep url.Values) []rangeLink {
	var out []rangeLink
	end := today.Format("2006-01-02")
	for _, n := range []int{7, 30, 90} {
		f := today.AddDate(0, 0, -(n - 1)).Format("2006-01-02")
		v := url.Values{}
		for k, vs := range keep {
			v[k] = vs
		}
		v.Set("from", f)
		v.Set("to", end)
		out = append(out, rangeLink{Label: fmt.Sprintf("%d days", n), Href: path + "?" + v.Encode(), Current: from == f && to == end})
	}
	return out
}

// costChart draws daily spend as stacked bars in inline SVG. Colours come from CSS classes
// (series-0…series-8), not style attributes, so the CSP needs no inline style; every piece of text
// from the store goes through template.HTMLEscapeString.
func costChart(daily []agenttrace.DailyCost, from, end time.Time, by string) (template.HTML, []legendItem) {
	var days []string
	for t := from; t.Before(end); t = t.AddDate(0, 0, 1) {
		days = append(days, t.Format("2006-01-02"))
	}
	series, legend := chartLegend(daily, by)
	stacks, maxDay := stackDays(daily, days, series)
	return drawCostChart(days, stacks, legend, maxDay), legend
}

// chartLegend assigns each key its series: the biggest keys get their own colour, the
// long tail is one "other" band (series chartSeries).
func chartLegend(daily []agenttrace.DailyCost, by string) (map[string]int, []legendItem) {
	totals := map[string]float64{}
	for _, dc := range daily {
		totals[dc.Key] += dc.CostUSD
	}
	keys := make([]string, 0, len(totals))
	for k := range totals {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if totals[keys[i]] != totals[keys[j]] {
			return totals[keys[i]] > totals[keys[j]]
		}
		return keys[i] < keys[j]
	})
	series := map[string]int{}
	var legend []legendItem
	for i, k := range keys {
		if i < chartSeries {
			series[k] = i
			item := legendItem{Class: "series-" + strconv.Itoa(i), Label: k, CostUSD: totals[k]}
			if by == agenttrace.GroupBySession {
				item.Label, item.Href = shortID(k), "/sessions/"+url.PathEscape(k)
			}
			if k == "" {
				item.Label = "(unknown)"
			}
			legend = append(legend, item)
			continue
		}
		series[k] = chartSeries
	}
	if len(keys) > chartSeries {
		var rest float64
		for _, k := range keys[chartSeries:] {
			rest += totals[k]
		}
		legend = append(legend, legendItem{Class: "series-" + strconv.Itoa(chartSeries), Label: fmt.Sprintf("%d others", len(keys)-chartSeries), CostUSD: rest})
	}
	return series, legend
}

// stackDays sums each day's spend per series, and returns the biggest day's total.
func stackDays(daily []agenttrace.DailyCost, days []string, series map[string]int) (stacks [][]float64, maxDay float64) {
	dayIdx := make(map[string]int, len(days))
	for i, d := range days {
		dayIdx[d] = i
	}
	stacks = make([][]float64, len(days))
	for i := range stacks {
		stacks[i] = make([]float64, chartSeries+1)
	}
	for _, dc := range daily {
		i, ok := dayIdx[dc.Day]
		if !ok {
			continue
		}
		stacks[i][series[dc.Key]] += dc.CostUSD
	}
	for _, st := range stacks {
		var t float64
		for _, v := range st {
			t += v
		}
		maxDay = math.Max(maxDay, t)
	}
	return stacks, maxDay
}

// Chart geometry, in SVG user units.
const (
	chartWidth, chartHeight = 960.0, 260.0
	chartLeft, chartRight   = 56.0, 8.0
	chartTop, chartBottom   = 10.0, 28.0
)

// drawCostChart renders the stacked bars, the cost axis and every few days' date.
func drawCostChart(days []string, stacks [][]float64, legend []legendItem, maxDay float64) template.HTML {
	plotW, plotH := chartWidth-chartLeft-chartRight, chartHeight-chartTop-chartBottom
	scale, ticks := niceScale(maxDay)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="Daily spend from %s to %s">`, chartWidth, chartHeight, days[0], days[len(days)-1])
	for i := 0; i <= ticks; i++ {
		v := scale * float64(i) / float64(ticks)
		y := chartTop + plotH - plotH*float64(i)/float64(ticks)
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, chartLeft, chartWidth-chartRight, y, y)
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, chartLeft-6, y+4, template.HTMLEscapeString(axisCost(v)))
	}
	slot := plotW / float64(len(days))
	barW := math.Max(1, slot*0.75)
	labelEvery := int(math.Ceil(float64(len(days)) / 10))
	for i, st := range stacks {
		x := chartLeft + slot*float64(i) + (slot-barW)/2
		y := chartTop + plotH
		for s, v := range st {
			if v <= 0 {
				continue
			}
			h := plotH * v / scale
			y -= h
			label := "other"
			if s < len(legend) {
				label = legend[s].Label
			}
			fmt.Fprintf(&b, `<rect class="bar series-%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s · %s · %s</title></rect>`,
				s, x, y, barW, math.Max(h, 0.5), days[i], template.HTMLEscapeString(label), formatCost(v))
		}
		if i%labelEvery == 0 {
			fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x+barW/2, chartHeight-8, days[i][5:])
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceScale rounds a maximum up to 1, 2 or 5 times a power of ten so the axis reads well,
// and picks a tick count that divides it evenly.
func niceScale(v float64) (top float64, ticks int) {
	if v <= 0 {
		return 1, 4
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p*(1+1e-9) {
			if m == 2 {
				return m * p, 4
			}
			return m * p, 5
		}
	}
	return 10 * p, 5
}

func axisCost(v float64) string {
	if v == 0 {
		return "$0"
	}
	// Ticks are multiples of 1, 2 or 5: four decimals at most, trailing zeros dropped.
	return "$" + strconv.FormatFloat(math.Round(v*1e4)/1e4, 'f', -1, 64)
}
