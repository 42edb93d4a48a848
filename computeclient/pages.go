package computeclient

import "context"

// listAll fetches every page of a list: fetch gets one page for a token, and
// items picks its items and the next token ("" on the last page).
func listAll[P any, T any](ctx context.Context, c *Client, method string,
	fetch func(ctx context.Context, pageToken string) (P, error), items func(P) ([]T, string)) ([]T, error) {
	var out []T
	token := ""
	for {
		page, err := Do(ctx, c, method, func(ctx context.Context) (P, error) { return fetch(ctx, token) })
		if err != nil {
			return nil, err
		}
		its, next := items(page)
		out = append(out, its...)
		if next == "" {
			return out, nil
		}
		token = next
	}
}
