package fakegce_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"

	"google.golang.org/api/googleapi"
)

// projects.get answers for a project's number as for its id, with the id in
// name: the upstream GCE provider turns a numeric project-id of gce.conf
// into the id this way (kubernetes/cloud-provider-gcp providers/gce/gce.go,
// getProjectID). A number that is no project's is a 404.
func TestProjectsGetAnswersForTheProjectNumber(t *testing.T) {
	c := start(t)
	byID, err := c.Compute.Projects.Get(c.Project).Do()
	if err != nil {
		t.Fatal(err)
	}
	number := strconv.FormatUint(byID.Id, 10)
	byNumber, err := c.Compute.Projects.Get(number).Do()
	if err != nil {
		t.Fatalf("projects.get %s (the number of %s): %v", number, c.Project, err)
	}
	if byNumber.Name != c.Project || byNumber.Id != byID.Id || byNumber.SelfLink != byID.SelfLink {
		t.Errorf("projects.get %s = name %s id %d selfLink %s; want the project %s as projects.get of its id answers it",
			number, byNumber.Name, byNumber.Id, byNumber.SelfLink, c.Project)
	}
	_, err = c.Compute.Projects.Get("100000000001").Do()
	var apiErr *googleapi.Error
	if !errors.As(err, &apiErr) || apiErr.Code != http.StatusNotFound {
		t.Errorf("projects.get of a number no project has: %v, want a 404", err)
	}
}
