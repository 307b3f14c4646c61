"""Published component configs of full-size diffusers pipelines (JSON), for pasta bench t2i."""
