package otlp

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/agent-trace/agent-trace/event"
	"github.com/agent-trace/agent-trace/internal/privacy"
)

// Metrics converts every Sum or Gauge data point of md (Claude Code exports monotonic
// Sums only); points of other types are counted rejected.
func (c Converter) Metrics(md pmetric.Metrics) Result {
	var r Result
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				var points pmetric.NumberDataPointSlice
				cumulative := false
				switch m.Type() {
				case pmetric.MetricTypeSum:
					points = m.Sum().DataPoints()
					cumulative = m.Sum().AggregationTemporality() == pmetric.AggregationTemporalityCumulative
				case pmetric.MetricTypeGauge:
					points = m.Gauge().DataPoints()
				default:
					r.reject("metric " + m.Name() + ": unsupported type " + m.Type().String())
					continue
				}
				for _, dp := range points.All() {
					c.point(&r, newAttrs(rm.Resource().Attributes(), dp.Attributes()), m, dp, cumulative)
				}
			}
		}
	}
	return r
}

func (c Converter) point(r *Result, a *attrs, m pmetric.Metric, dp pmetric.NumberDataPoint, cumulative bool) {
	name := shortName(m.Name())
	t := timeOf(dp.Timestamp())
	if name == "" || t.IsZero() {
		r.reject("metric data point without a name or a time")
		return
	}
	e := c.base(a, event.KindMetric, name, t)
	if e.SessionID == "" {
		r.reject("metric " + name + " without session.id")
		return
	}
	v := dp.DoubleValue()
	if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
		v = float64(dp.IntValue())
	}
	e.OTel.Model = a.str("model")
	e.OTel.Attrs = a.rest()
	e.OTel.Metric = &event.MetricPoint{
		Value:      v,
		Unit:       m.Unit(),
		Start:      timeOf(dp.StartTimestamp()).UTC(),
		Cumulative: cumulative,
		Series:     c.series(a),
	}
	if e.OTel.Metric.Start.IsZero() {
		e.OTel.Metric.Start = e.Time
	}
	value := strconv.FormatFloat(v, 'g', -1, 64) + "@" + strconv.FormatInt(int64(dp.StartTimestamp()), 10)
	e.ID = event.OTelID(event.KindMetric, e.SessionID, digest(name, t, a.m, value))
	c.add(r, a, e)
}

// series is the point's attributes minus the common ones, sorted, as "k=v,k=v": what
// tells one series of a metric from another (model, type). Only attributes the tier
// keeps are named, so the series cannot carry what the tier drops.
func (c Converter) series(a *attrs) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(a.m)) {
		v := a.m[k]
		if commonKeys[k] || privacy.OTelAttrTier(k, v) > c.tier() {
			continue
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}
