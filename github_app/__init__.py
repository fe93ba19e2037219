"""GitHub App code with no Django in it: app JWT, installation tokens and the
githubkit client, webhook signatures, delivery headers, the manifest."""
