package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/articlesd/articlesd/telemetry"
)

// BenchmarkMiddleware measures what telemetry adds to a request on its own, around a
// handler that does no work, off and on in turn: the absolute cost behind
// TelemetryOverhead's percentages.
//
//	go test -run XXX -bench Middleware -benchtime 200000x ./telemetry/
func BenchmarkMiddleware(b *testing.B) {
	body := []byte(`{"id":1,"title":"t"}`)
	router := func(mw []gin.HandlerFunc) *gin.Engine {
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		_ = r.SetTrustedProxies(nil) // as the service does
		r.Use(mw...)
		r.GET("/articles/:id", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", body) })
		return r
	}
	for _, tc := range []struct {
		name    string
		tracing bool
		ratio   float64
	}{
		{"telemetry=metrics+logs", false, 0},
		{"telemetry=on,sampled=0", true, 0},
		{"telemetry=on,sampled=10%", true, 0.1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := telemetry.Config{Metrics: true, Stderr: io.Discard}
			if tc.tracing {
				cfg.OTLPEndpoint, cfg.OTLPInsecure, cfg.SampleRatio = startSink(b), true, tc.ratio
			}
			tel, err := telemetry.New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = tel.Shutdown(ctx)
			})
			off, on := router(nil), router(tel.Middleware(testRoutes(b)))
			b.ReportAllocs()
			offTime, onTime := alternate(b, off, "/articles/1", on, "/articles/1")
			n := float64(b.N)
			b.ReportMetric(float64(offTime.Nanoseconds())/n, "off-ns/req")
			b.ReportMetric(float64((onTime-offTime).Nanoseconds())/n, "added-ns/req")
		})
	}
}
