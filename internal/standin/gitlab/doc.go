// Package gitlab is a stand-in for the official pulumi-gitlab 8.11.0
// resource provider plugin (terraform-provider-gitlab 17.11.0 underneath).
//
// TEST SUPPORT ONLY: the official plugin cannot be downloaded on the
// development and CI machines. This stand-in implements the provider config
// (pulumi:providers:gitlab) and the resources gitlab:index/branch:Branch,
// gitlab:index/repositoryFile:RepositoryFile and, for `expbot setup`,
// projectHook, groupHook, label and groupLabel with the official property
// names, defaults, IDs and replace/update rules, and it makes the same REST
// calls as the official plugin. It must never be used on a production path;
// production installs the official plugin with
// `pulumi plugin install resource gitlab 8.11.0`.
package gitlab
