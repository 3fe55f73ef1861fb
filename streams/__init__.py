"""Stream processors (Faust): validate, deduplicate, route, project and mask, deliver."""
