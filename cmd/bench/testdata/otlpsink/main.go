// A minimal OTLP/gRPC trace receiver that counts spans, for load runs.
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"sync/atomic"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

type sink struct {
	coltrace.UnimplementedTraceServiceServer
	spans atomic.Int64
}

func (s *sink) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			s.spans.Add(int64(len(ss.Spans)))
		}
	}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:4317", "")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	s := &sink{}
	g := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(g, s)
	go func() {
		for range time.Tick(5 * time.Second) {
			log.Printf("spans: %d", s.spans.Load())
		}
	}()
	log.Fatal(g.Serve(ln))
}
