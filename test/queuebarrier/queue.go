package queuebarrier

import (
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
)

// tracker is the state of a controller's queues that the queues do not
// show (Len counts only the queued items).
type tracker struct {
	mu sync.Mutex
	// ops counts every queue operation.
	ops uint64
	// inFlight are the items taken by Get and not yet Done.
	inFlight int
	// waiting are the items added with a delay, by queue and item, with
	// the earliest time each may be queued: the delaying queue keeps one
	// entry per item, the earliest (client-go util/workqueue
	// delaying_queue.go). An entry ends when the item is next taken at or
	// after that time.
	waiting map[any]delayedAdd
	queues  []interface{ Len() int }
}

// delayedAdd is an item's delayed add: the earliest time it may be queued,
// and whether it is the retry of a failed sync.
type delayedAdd struct {
	at    time.Time
	retry bool
}

type waitingItem[T comparable] struct {
	queue string
	item  T
}

// queue is one of the controller's queues, observed.
type queue[T comparable] struct {
	workqueue.TypedRateLimitingInterface[T]
	name string
	t    *tracker
	// minRetry and maxRetry bound the queue's rate limiter's exponential
	// backoff: AddRateLimited waits at least minRetry·2^requeues, capped.
	minRetry, maxRetry time.Duration
}

// Track returns q observed by the barrier, for the controller to use in
// its place before it runs. name tells the controller's queues apart;
// minRetry and maxRetry are the bounds of q's per-item exponential
// backoff, which AddRateLimited waits.
func Track[T comparable](b *Barrier, name string, q workqueue.TypedRateLimitingInterface[T], minRetry, maxRetry time.Duration) workqueue.TypedRateLimitingInterface[T] {
	t, _ := b.current()
	t.mu.Lock()
	t.queues = append(t.queues, q)
	t.mu.Unlock()
	return &queue[T]{TypedRateLimitingInterface: q, name: name, t: t, minRetry: minRetry, maxRetry: maxRetry}
}

func (q *queue[T]) Add(item T) {
	q.TypedRateLimitingInterface.Add(item)
	q.t.mu.Lock()
	q.t.ops++
	q.t.mu.Unlock()
}

func (q *queue[T]) Get() (T, bool) {
	item, quit := q.TypedRateLimitingInterface.Get()
	q.t.mu.Lock()
	defer q.t.mu.Unlock()
	q.t.ops++
	if !quit {
		q.t.inFlight++
		k := waitingItem[T]{q.name, item}
		if w, ok := q.t.waiting[k]; ok && !time.Now().Before(w.at) {
			delete(q.t.waiting, k)
		}
	}
	return item, quit
}

func (q *queue[T]) Done(item T) {
	q.TypedRateLimitingInterface.Done(item) // re-queues the item if it was added meanwhile
	q.t.mu.Lock()
	q.t.ops++
	q.t.inFlight--
	q.t.mu.Unlock()
}

func (q *queue[T]) AddAfter(item T, d time.Duration) {
	q.wait(item, d, false)
	q.TypedRateLimitingInterface.AddAfter(item, d)
}

func (q *queue[T]) AddRateLimited(item T) {
	d := q.minRetry << min(q.NumRequeues(item), 30)
	if d > q.maxRetry || d <= 0 {
		d = q.maxRetry
	}
	q.wait(item, d, true)
	q.TypedRateLimitingInterface.AddRateLimited(item)
}

func (q *queue[T]) wait(item T, d time.Duration, retry bool) {
	at := time.Now().Add(d)
	q.t.mu.Lock()
	defer q.t.mu.Unlock()
	q.t.ops++
	k := waitingItem[T]{q.name, item}
	if prev, ok := q.t.waiting[k]; !ok || at.Before(prev.at) {
		q.t.waiting[k] = delayedAdd{at, retry || (ok && prev.retry)}
	}
}

// idle: nothing queued, in flight or waiting (but, with butRetries, the
// retries of failed syncs); and the count of operations at that moment.
func (t *tracker) idle(butRetries bool) (bool, uint64, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	queued, waiting := 0, 0
	for _, q := range t.queues {
		queued += q.Len()
	}
	for _, w := range t.waiting {
		if !w.retry || !butRetries {
			waiting++
		}
	}
	return queued == 0 && t.inFlight == 0 && waiting == 0, t.ops,
		fmt.Sprintf("%d queued, %d in flight, %d waiting", queued, t.inFlight, waiting)
}
