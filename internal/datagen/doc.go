// Package datagen fills a store with a realistic data set of Skill Seekers
// jobs: each job's progress events and logs, and the workers' metrics,
// generated in time order from a seed and inserted in batches while the
// next batch is generated. querybench reads the same data set and picks
// its queries from the names here.
package datagen
