// Package github is a stand-in for the official pulumi-github 6.12.1
// resource provider plugin (terraform-provider-github 6.11.1 underneath).
//
// TEST SUPPORT ONLY: the official plugin cannot be downloaded on the
// development and CI machines. This stand-in implements the provider config
// (pulumi:providers:github, with token or appAuth authentication as the
// official provider) and the resources github:index/branch:Branch,
// github:index/repositoryFile:RepositoryFile and, for `expbot setup`,
// repositoryWebhook, organizationWebhook and issueLabel with the official property
// names, defaults, IDs and replace/update rules, and it makes the same REST
// calls in the same order as the official plugin, so a simulated forge that
// satisfies it also satisfies the real plugin. It must never be installed or
// used on a production path; production installs the official plugin with
// `pulumi plugin install resource github 6.12.1`.
package github
