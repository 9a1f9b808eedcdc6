"""ctsdsl: billing policy as code for caregiver training services."""
