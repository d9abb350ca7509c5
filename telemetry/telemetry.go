// Package telemetry makes articlesd observable: Prometheus metrics on a private
// registry, OpenTelemetry traces exported over OTLP gRPC, and logfmt logs carrying the
// trace id, so that each signal leads to the other two. Nothing here is global but the
// W3C trace-context propagator.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config selects what telemetry runs. The zero value logs at INFO to stderr and does
// nothing else.
type Config struct {
	ServiceName    string // default "articles-api"
	ServiceVersion string

	// Metrics turns the Prometheus registry and the request metrics on.
	Metrics bool

	// OTLPEndpoint is the OTLP gRPC collector (host:port or a URL); empty turns tracing
	// off. OTLPInsecure sends without TLS, as to a collector beside the service.
	OTLPEndpoint string
	OTLPInsecure bool
	// SampleRatio is the share of new traces recorded (0..1); an incoming traceparent's
	// decision is kept.
	SampleRatio float64
	// SpanQueueSize bounds the spans waiting for export; more are dropped and counted.
	SpanQueueSize int

	LogLevel slog.Level
	// LogFile, when set, receives the logs too, rotated at LogFileMaxMB megabytes.
	LogFile      string
	LogFileMaxMB int
	// LogFlush is the longest an INFO or DEBUG line waits to be written together with
	// others; zero writes each line at once. Warnings and errors are written at once.
	LogFlush time.Duration
	// Stderr is where logs go besides the file (default os.Stderr).
	Stderr io.Writer
}

// Telemetry holds the live telemetry of the process.
type Telemetry struct {
	Logger         *slog.Logger
	Registry       *prometheus.Registry // nil when metrics are off
	Metrics        *Metrics             // nil when metrics are off
	TracerProvider trace.TracerProvider // a no-op provider when tracing is off
	Propagator     propagation.TextMapPropagator

	tracing  bool
	shutdown []func(context.Context) error
}

// New builds the telemetry a Config asks for.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	if cfg.ServiceName == "" {
		cfg.ServiceName = "articles-api"
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	t := &Telemetry{
		TracerProvider: noop.NewTracerProvider(),
		Propagator:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	otel.SetTextMapPropagator(t.Propagator)

	logger, closeLog := newLogger(cfg)
	t.Logger = logger
	t.shutdown = append(t.shutdown, closeLog)

	if cfg.Metrics {
		t.Registry = prometheus.NewRegistry()
		t.Registry.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			newHostCollector(),
		)
		t.Metrics = newMetrics(t.Registry, logger)
	}

	if cfg.OTLPEndpoint != "" {
		if cfg.SampleRatio < 0 || cfg.SampleRatio > 1 {
			return nil, fmt.Errorf("trace sample ratio %v: want a number from 0 to 1", cfg.SampleRatio)
		}
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(endpointURL(cfg.OTLPEndpoint, cfg.OTLPInsecure))}
		exp, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("otlp trace exporter for %s: %w", cfg.OTLPEndpoint, err)
		}
		res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
			semconv.ServiceName(cfg.ServiceName), semconv.ServiceVersion(cfg.ServiceVersion)))
		if err != nil {
			return nil, fmt.Errorf("trace resource: %w", err)
		}
		var dropped func(int)
		if t.Metrics != nil {
			dropped = func(n int) { t.Metrics.spansDropped.Add(float64(n)) }
		}
		proc := newBoundedProcessor(exp, cfg.SpanQueueSize, dropped, logger)
		tp := sdktrace.NewTracerProvider(
			sdktrace.WithResource(res),
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
			sdktrace.WithSpanProcessor(proc),
		)
		t.TracerProvider = tp
		t.tracing = true
		// Flush queued spans first, then close the log (shutdown runs in reverse).
		t.shutdown = append(t.shutdown, tp.Shutdown)
	}
	return t, nil
}

// endpointURL accepts host:port or a URL for the collector.
func endpointURL(endpoint string, insecure bool) string {
	for _, p := range []string{"http://", "https://"} {
		if len(endpoint) > len(p) && endpoint[:len(p)] == p {
			return endpoint
		}
	}
	if insecure {
		return "http://" + endpoint
	}
	return "https://" + endpoint
}

// MetricsHandler serves the registry in the Prometheus text format, or in OpenMetrics
// (with exemplars) to a scraper that asks for it. A metric that cannot be gathered is
// left out and logged: the scrape still succeeds with every other metric (a failed
// scrape would mark the target down and lose the very counters of an outage), and its
// body never carries an internal error.
func (t *Telemetry) MetricsHandler() http.Handler {
	if t.Registry == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(t.Registry, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		Registry:          t.Registry,
		ErrorHandling:     promhttp.ContinueOnError,
		ErrorLog:          promLogger{t.Logger},
	})
}

// promLogger hands promhttp's error lines to the process logger.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) { l.log.Warn("metrics: " + fmt.Sprint(v...)) }

// Shutdown flushes queued spans and closes the log file, in reverse order of creation.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(t.shutdown) - 1; i >= 0; i-- {
		errs = append(errs, t.shutdown[i](ctx))
	}
	return errors.Join(errs...)
}

// flushTimeout bounds one export to the collector.
const flushTimeout = 5 * time.Second
