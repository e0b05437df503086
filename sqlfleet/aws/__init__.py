"""AWS provisioning of a DMS fleet: the desired resources and their diff (pure), and the boto3
adapter that reads what exists and creates what is missing (``provision``)."""
