package bench

// This file holds the OTLP sink: the trace collector articlesd exports its spans to
// during the run, which only counts them.

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// spanSink is an OTLP gRPC trace collector that only counts the spans it gets.
type spanSink struct {
	coltracepb.UnimplementedTraceServiceServer
	spans atomic.Int64
	addr  string
	srv   *grpc.Server
}

// Export counts the spans of one export.
func (s *spanSink) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	var n int64
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += int64(len(ss.GetSpans()))
		}
	}
	s.spans.Add(n)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// startSpanSink starts a collector on a free port of 127.0.0.1; its srv.Stop ends it.
func startSpanSink() (*spanSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("trace collector: %w", err)
	}
	s := &spanSink{addr: ln.Addr().String(), srv: grpc.NewServer()}
	coltracepb.RegisterTraceServiceServer(s.srv, s)
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}
