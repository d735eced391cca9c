//! Image operations beyond inspect, pull and build: whether a registry has an image, the images a service's
//! builds left, and removing one.

use std::collections::HashMap;

use bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};

use super::super::R;
use super::DockerEngine;
use super::convert::error;
use crate::labels;

impl DockerEngine {
    pub(super) async fn images_of_service(&self, project: &str, service: &str) -> R<Vec<String>> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                labels::project_filter(project),
                format!("{}={service}", labels::SERVICE),
            ],
        )]);
        let opts = ListImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let mut list = self
            .docker
            .list_images(Some(opts))
            .await
            .map_err(|e| error(format!("listing the images of service {service}"), &e))?;
        list.sort_by_key(|i| std::cmp::Reverse(i.created));
        Ok(list.into_iter().map(|i| i.id).collect())
    }

    pub(super) async fn registry_has_image(&self, reference: &str) -> R<()> {
        // No credentials: the pull sends none either.
        self.docker
            .inspect_registry_image(reference, None)
            .await
            .map(|_| ())
            .map_err(|e| error(format!("asking the registry for {reference}"), &e))
    }

    pub(super) async fn remove_image_by_id(&self, id: &str) -> R<()> {
        // Never forced: an image a container still uses stays. Its untagged parents (the classic builder's
        // steps) stay too: a build alongside may be taking them from its cache.
        let opts = RemoveImageOptionsBuilder::default()
            .force(false)
            .noprune(true)
            .build();
        self.docker
            .remove_image(id, Some(opts), None)
            .await
            .map_err(|e| error(format!("removing image {id}"), &e))?;
        Ok(())
    }
}
