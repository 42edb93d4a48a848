// Package computeclient is the one place that calls the compute API: it
// points google.golang.org/api/compute/v1 at the configured endpoint, waits on
// operations with the caller's context, retries what can be retried, limits
// the request rate, classifies errors and measures every call.
//
// It never retries a request that the API refused for a reason a retry cannot
// change (400, 404, 409, 412), and mutating calls carry a requestId so that a
// retry after a lost answer cannot apply twice.
package computeclient

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	"github.com/cloud-provider-vpc/cloud-provider-vpc/ownership"
)

// Config is what the client needs; the provider fills it from the cloud config.
type Config struct {
	Project string
	// NetworkProject owns the VPC network (Shared VPC's host project):
	// firewall rules, routes and subnetworks are read and written there.
	// Empty: Project.
	NetworkProject string
	// Endpoint overrides the API's base URL ("http://127.0.0.1:8085/compute/v1/").
	Endpoint string
	// HTTPClient carries authentication (nil: no authentication).
	HTTPClient *http.Client
	QPS        float64
	Burst      int
	// MaxRetries is how many times a retryable failure is retried.
	MaxRetries int
	// Backoff is the first retry's delay; it doubles (with jitter) up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	UserAgent  string
}

// Client calls the compute API for one project, and for the network's
// resources in the network's project.
type Client struct {
	svc            *compute.Service
	project        string
	networkProject string
	limiter        *rate.Limiter
	retries        int
	backoff        wait.Backoff
}

// New builds a client. It makes no request.
func New(ctx context.Context, cfg Config) (*Client, error) {
	opts := []option.ClientOption{}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	} else {
		opts = append(opts, option.WithoutAuthentication())
	}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	if cfg.UserAgent != "" {
		opts = append(opts, option.WithUserAgent(cfg.UserAgent))
	}
	svc, err := compute.NewService(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("compute client: %w", err)
	}
	if cfg.QPS <= 0 {
		cfg.QPS = 20
	}
	if cfg.Burst <= 0 {
		cfg.Burst = int(cfg.QPS * 2)
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	registerMetrics()
	return &Client{
		svc:            svc,
		project:        cfg.Project,
		networkProject: cmp.Or(cfg.NetworkProject, cfg.Project),
		limiter:        rate.NewLimiter(rate.Limit(cfg.QPS), cfg.Burst),
		retries:        cfg.MaxRetries,
		backoff:        wait.Backoff{Duration: cfg.Backoff, Factor: 2, Jitter: 0.5, Cap: cfg.MaxBackoff, Steps: 64},
	}, nil
}

// Project is the project the client works in.
func (c *Client) Project() string { return c.project }

// NetworkProject is the project of the network's firewall rules, routes
// and subnetworks.
func (c *Client) NetworkProject() string { return c.networkProject }

// Service is the underlying generated client, for the packages of this
// provider that build calls this file does not wrap yet. Calls made through it
// must go through Do or Mutate.
func (c *Client) Service() *compute.Service { return c.svc }

var errCanceled = errors.New("canceled")

// Do runs one read call: rate limited, retried while retryable, measured.
func Do[T any](ctx context.Context, c *Client, method string, call func(ctx context.Context) (T, error)) (T, error) {
	start := time.Now()
	backoff := c.backoff
	var zero T
	for attempt := 0; ; attempt++ {
		if err := c.limiter.Wait(ctx); err != nil {
			requestDuration.WithLabelValues(method, string(ClassCanceled)).Observe(time.Since(start).Seconds())
			return zero, fmt.Errorf("%s: %w: %v", method, errCanceled, err)
		}
		v, err := call(ctx)
		if err == nil {
			requestDuration.WithLabelValues(method, string(ClassNone)).Observe(time.Since(start).Seconds())
			return v, nil
		}
		class := Classify(err)
		if ctx.Err() != nil {
			class = ClassCanceled
			err = fmt.Errorf("%w: %v", errCanceled, err)
		}
		requestErrors.WithLabelValues(method, string(class)).Inc()
		if class == ClassCanceled || !retryable(err) || attempt >= c.retries {
			requestDuration.WithLabelValues(method, string(class)).Observe(time.Since(start).Seconds())
			return zero, err
		}
		delay := backoff.Step()
		klog.FromContext(ctx).V(4).Info("Retrying compute API call", "method", method, "attempt", attempt+1, "delay", delay, "err", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			requestDuration.WithLabelValues(method, string(ClassCanceled)).Observe(time.Since(start).Seconds())
			return zero, fmt.Errorf("%s: %w: %v", method, errCanceled, ctx.Err())
		}
	}
}

// Mutate runs a call that returns an operation and waits for the operation.
// The call gets a requestId that stays the same across retries, so the API
// applies it once even when an answer is lost.
func (c *Client) Mutate(ctx context.Context, method string, call func(ctx context.Context, requestID string) (*compute.Operation, error)) error {
	requestID := newRequestID()
	op, err := Do(ctx, c, method, func(ctx context.Context) (*compute.Operation, error) { return call(ctx, requestID) })
	if err != nil {
		return err
	}
	return c.Wait(ctx, op)
}

// Wait blocks until the operation is DONE, through the API's wait method
// (which answers within about two minutes, DONE or not), and returns its
// error if it failed. Only the caller's context bounds it.
func (c *Client) Wait(ctx context.Context, op *compute.Operation) error {
	project := projectOf(op.SelfLink, c.project) // an operation is in the project of what it changes
	for op.Status != "DONE" {
		var err error
		switch {
		case op.Zone != "":
			op, err = Do(ctx, c, "zoneOperations.wait", func(ctx context.Context) (*compute.Operation, error) {
				return c.svc.ZoneOperations.Wait(project, ownership.LastSegment(op.Zone), op.Name).Context(ctx).Do()
			})
		case op.Region != "":
			op, err = Do(ctx, c, "regionOperations.wait", func(ctx context.Context) (*compute.Operation, error) {
				return c.svc.RegionOperations.Wait(project, ownership.LastSegment(op.Region), op.Name).Context(ctx).Do()
			})
		default:
			op, err = Do(ctx, c, "globalOperations.wait", func(ctx context.Context) (*compute.Operation, error) {
				return c.svc.GlobalOperations.Wait(project, op.Name).Context(ctx).Do()
			})
		}
		if err != nil {
			return err
		}
	}
	return operationError(op)
}

func newRequestID() string { return string(uuid.NewUUID()) }

// projectOf is the project a resource link names, or def when it names none.
func projectOf(link, def string) string { return cmp.Or(ownership.ProjectOf(link), def) }
